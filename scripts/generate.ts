// `npm run gen`: writes the files generated from the API schema.
import { writeFileSync } from "node:fs";
import { CRD_PATH, exportPolicyCrdYaml } from "../src/api/index.js";

writeFileSync(CRD_PATH, exportPolicyCrdYaml());
console.log(`wrote ${CRD_PATH}`);
