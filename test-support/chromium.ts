// Headless Chromium for tests of the status page: Debian's `chromium`
// driven by puppeteer-core (a devDependency; it downloads no browser and
// ships in no build), and what screenshot assertions need — a PNG decoder
// small enough to read here, so a test can check a pixel's colour.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { peerAvailability, type PeerAvailability } from "./peers.js";

export function chromiumAvailability(env: NodeJS.ProcessEnv = process.env): PeerAvailability {
  return peerAvailability("chromium", "apt-get install chromium", env);
}

export interface RunningChromium {
  readonly browser: Browser;
  /** Where the screenshots are written; close() removes it unless TELEX_KEEP_SCREENSHOTS=1. */
  readonly screenshotDir: string;
  /** A page of the given viewport (default 1280×900). */
  newPage(viewport?: { readonly width: number; readonly height: number }): Promise<Page>;
  /** A screenshot of the page's viewport, saved as NAME.png and decoded. */
  screenshot(page: Page, name: string): Promise<DecodedPng>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<RunningChromium> {
  const executablePath = chromiumAvailability().requirePath();
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    // Over a pipe: no debugging port for anyone else on the machine to find.
    pipe: true,
    args: [
      // Chromium's sandbox refuses to run as root (CI runs as root).
      ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
    ],
  });
  const screenshotDir = await mkdtemp(join(tmpdir(), "telex-ui-screenshots-"));
  return {
    browser,
    screenshotDir,
    newPage: async (viewport = { width: 1280, height: 900 }) => {
      const page = await browser.newPage();
      await page.setViewport({ ...viewport, deviceScaleFactor: 1 });
      return page;
    },
    screenshot: async (page, name) => {
      const png = Buffer.from(await page.screenshot({ type: "png" }));
      await writeFile(join(screenshotDir, `${name}.png`), png);
      return decodePng(png);
    },
    close: async () => {
      await browser.close();
      // TELEX_KEEP_SCREENSHOTS=1 keeps them for a person to look at (the path is in the failure messages).
      if (process.env["TELEX_KEEP_SCREENSHOTS"] !== "1")
        await rm(screenshotDir, { recursive: true, force: true });
    },
  };
}

export type Rgb = readonly [number, number, number];

export interface DecodedPng {
  readonly width: number;
  readonly height: number;
  pixel(x: number, y: number): Rgb;
  /** How many distinct colours the image has (a blank page has one). */
  distinctColours(): number;
}

/** Whether two colours are within `tolerance` per channel (antialiasing, colour management). */
export function near(actual: Rgb, expected: Rgb, tolerance = 12): boolean {
  return actual.every((channel, i) => Math.abs(channel - (expected[i] ?? 0)) <= tolerance);
}

/** "#cf222e" as RGB. */
export function hexColour(hex: string): Rgb {
  const value = Number.parseInt(hex.replace(/^#/, ""), 16);
  return [(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Decodes the PNGs Chromium writes: 8-bit RGB or RGBA, not interlaced
 * (anything else is refused, never misread).
 */
export function decodePng(png: Buffer): DecodedPng {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error("not a PNG");
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  for (let offset = 8; offset < png.length;) {
    const length = png.readUInt32BE(offset);
    const type = png.toString("latin1", offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [bitDepth, colourType, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      channels = colourType === 6 ? 4 : colourType === 2 ? 3 : 0;
      if (bitDepth !== 8 || channels === 0 || interlace !== 0)
        throw new Error(
          `unsupported PNG: bit depth ${bitDepth}, colour type ${colourType}, interlace ${interlace}`,
        );
    } else if (type === "IDAT") {
      data.push(body);
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x] ?? 0;
      const left = x >= channels ? (pixels[y * stride + x - channels] ?? 0) : 0;
      const up = y > 0 ? (pixels[(y - 1) * stride + x] ?? 0) : 0;
      const upLeft = x >= channels && y > 0 ? (pixels[(y - 1) * stride + x - channels] ?? 0) : 0;
      pixels[y * stride + x] = (value + unfilter(filter ?? 0, left, up, upLeft)) & 0xff;
    }
  }
  return {
    width,
    height,
    pixel: (x, y) => {
      const at = y * stride + x * channels;
      return [pixels[at] ?? 0, pixels[at + 1] ?? 0, pixels[at + 2] ?? 0];
    },
    distinctColours: () => {
      const seen = new Set<number>();
      for (let at = 0; at < pixels.length; at += channels)
        seen.add(((pixels[at] ?? 0) << 16) | ((pixels[at + 1] ?? 0) << 8) | (pixels[at + 2] ?? 0));
      return seen.size;
    },
  };
}

/** The predictor a PNG filter adds back (PNG spec, section 9). */
function unfilter(filter: number, left: number, up: number, upLeft: number): number {
  switch (filter) {
    case 0:
      return 0;
    case 1:
      return left;
    case 2:
      return up;
    case 3:
      return Math.floor((left + up) / 2);
    case 4: {
      const estimate = left + up - upLeft;
      const [a, b, c] = [Math.abs(estimate - left), Math.abs(estimate - up), Math.abs(estimate - upLeft)];
      return a <= b && a <= c ? left : b <= c ? up : upLeft;
    }
    default:
      throw new Error(`unknown PNG filter ${filter}`);
  }
}
