// @ts-check
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

// What product code (src/, its tests aside) must not import: test support and
// tests ship in no build (tsconfig.build.json), so an import of them would
// pull test code into the product or break the image. src/layout.test.ts
// lints probes against these rules to show they fire.
const NO_TEST_CODE = [
  {
    regex: String.raw`(^|/)test-support(/|$)`,
    message: "test-support/ is for tests and benchmarks only; product code under src/ must not import it.",
  },
  {
    regex: String.raw`\.test(\.js)?$`,
    message: "test files are not part of the product; product code under src/ must not import them.",
  },
];
const NO_DYNAMIC_TEST_SUPPORT = [
  "ImportExpression[source.value=/test-support/]",
  "TSImportType[argument.literal.value=/test-support/]",
].map((selector) => ({
  selector,
  message: "test-support/ is for tests and benchmarks only; product code under src/ must not import it.",
}));

// Modules at the bottom of the tree, and what they alone may import from the
// rest of src/ (their files sit one level below src/, so `../x` is module x).
const LAYERS = {
  "src/util": {
    regex: String.raw`^\.\./(?!\.\./test-support/)`,
    message: "src/util imports nothing else from the repository: every module depends on it.",
  },
  "src/kube": {
    regex: String.raw`^\.\./(?!util/|\.\./test-support/)`,
    message:
      "src/kube, the Kubernetes client, depends on src/util only (not api, controller, exporter or cli).",
  },
};

/** @param {readonly object[]} patterns */
const restrictImports = (patterns) => ({ "no-restricted-imports": ["error", { patterns }] });

export default defineConfig(
  { ignores: ["dist/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["eslint.config.js", "bin/*.js"] },
        tsconfigRootDir: import.meta.dirname,
      },
      globals: { process: "readonly", console: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    files: ["**/*.test.ts"],
    rules: {
      // node:test's describe/it return promises that the runner awaits itself.
      "@typescript-eslint/no-floating-promises": "off",
    },
  },
  {
    files: ["src/**/*.ts"],
    ignores: ["src/**/*.test.ts"],
    rules: {
      ...restrictImports(NO_TEST_CODE),
      "no-restricted-syntax": ["error", ...NO_DYNAMIC_TEST_SUPPORT],
    },
  },
  // A later block's options replace an earlier one's, so a layer's product
  // files repeat the test-code patterns.
  Object.entries(LAYERS).flatMap(([dir, layer]) => [
    { files: [`${dir}/**/*.ts`], rules: restrictImports([layer]) },
    {
      files: [`${dir}/**/*.ts`],
      ignores: [`${dir}/**/*.test.ts`],
      rules: restrictImports([...NO_TEST_CODE, layer]),
    },
  ]),
);
