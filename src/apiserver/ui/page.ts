// The status page's document and style sheet (/ui/, /ui/app.css). The
// document holds no data: the script (script.ts) reads it from the API.

export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Telex status</title>
<link rel="stylesheet" href="/ui/app.css">
<script src="/ui/app.js" defer></script>
</head>
<body>
<main id="app"><p class="muted">Loading…</p></main>
<noscript>The status page needs JavaScript; the same data: telex get exportpolicies, telex describe exportpolicy NAME.</noscript>
</body>
</html>
`;

/** Badge colours are part of the page's contract with its tests (they check pixels). */
export const UI_BADGE_COLOURS = {
  True: "#1a7f37",
  False: "#cf222e",
  Unknown: "#6e7781",
} as const;

export const UI_CSS = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #fff; }
main { padding: 12px 20px; }
header { display: flex; gap: 16px; align-items: baseline; border-bottom: 1px solid #d0d7de; margin-bottom: 12px; }
h1 { font-size: 18px; margin: 8px 0; }
h1 a { color: inherit; text-decoration: none; }
h2 { font-size: 16px; margin: 16px 0 4px; }
.ns, .muted { color: #656d76; }
.muted { font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 12px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #eaeef2; }
th { font-size: 12px; color: #656d76; font-weight: 600; }
.badge { display: inline-block; min-width: 72px; text-align: center; padding: 2px 8px; border-radius: 4px; color: #fff; font-size: 12px; font-weight: 600; }
.badge[data-status="True"] { background: ${UI_BADGE_COLOURS.True}; }
.badge[data-status="False"] { background: ${UI_BADGE_COLOURS.False}; }
.badge[data-status="Unknown"] { background: ${UI_BADGE_COLOURS.Unknown}; }
.reason b { font-weight: 600; }
.chart .frame { fill: #f6f8fa; stroke: #d0d7de; }
.chart .sent { fill: none; stroke: #0969da; stroke-width: 1.5; }
.chart .dropped { fill: none; stroke: ${UI_BADGE_COLOURS.False}; stroke-width: 1.5; }
.failure { color: ${UI_BADGE_COLOURS.False}; font-weight: 600; }
form { margin: 8px 0; }
button.link { background: none; border: none; color: #0969da; cursor: pointer; padding: 0; font: inherit; font-size: 12px; }
tr[data-type="Warning"] td:nth-child(2) { color: ${UI_BADGE_COLOURS.False}; }
`;
