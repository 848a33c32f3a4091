// Copy the browser builds of our npm front-end dependencies into the packages' static folders,
// so the dashboard and the exchange's API docs (/docs) load nothing from a CDN (they must work
// in an offline control room).
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const nm = join(root, "node_modules");
const pkg = join(root, "src", "phoenyra");

// Each folder is emptied and refilled: [from (under node_modules), to (under the folder)]
const targets = [
  {
    out: join(pkg, "webapp", "static", "vendor"),
    files: [
      ["apexcharts/dist/apexcharts.min.js", "apexcharts/apexcharts.min.js"],
      ["apexcharts/LICENSE", "apexcharts/LICENSE"],
      ["apexcharts/dist/locales/de.json", "apexcharts/locales/de.json"],
      ["socket.io-client/dist/socket.io.min.js", "socket.io/socket.io.min.js"],
      ["socket.io-client/LICENSE", "socket.io/LICENSE"],
      ["@fortawesome/fontawesome-free/css/fontawesome.min.css", "fontawesome/css/fontawesome.min.css"],
      ["@fortawesome/fontawesome-free/css/solid.min.css", "fontawesome/css/solid.min.css"],
      ["@fortawesome/fontawesome-free/webfonts/fa-solid-900.woff2", "fontawesome/webfonts/fa-solid-900.woff2"],
      ["@fortawesome/fontawesome-free/LICENSE.txt", "fontawesome/LICENSE.txt"],
      ["@fontsource-variable/inter/files/inter-latin-wght-normal.woff2", "inter/inter-latin-wght-normal.woff2"],
      ["@fontsource-variable/inter/LICENSE", "inter/LICENSE"],
    ],
  },
  {
    // Swagger UI for the exchange's /docs (served under /docs-static/swagger/).
    out: join(pkg, "exchange", "static", "swagger"),
    files: [
      ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"],
      ["swagger-ui-dist/swagger-ui.css", "swagger-ui.css"],
      ["swagger-ui-dist/favicon-32x32.png", "favicon-32x32.png"],
      ["swagger-ui-dist/LICENSE", "LICENSE"],
      ["swagger-ui-dist/NOTICE", "NOTICE"],
      ["swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt", "swagger-ui-bundle.js.LICENSE.txt"],
    ],
  },
];

let count = 0;
for (const { out, files } of targets) {
  rmSync(out, { recursive: true, force: true });
  for (const [from, to] of files) {
    const dest = join(out, to);
    mkdirSync(dirname(dest), { recursive: true });
    try {
      copyFileSync(join(nm, from), dest);
    } catch (err) {
      console.error(`vendor-assets: cannot copy ${from}: ${err.message}. Run "npm ci" first.`);
      process.exit(1);
    }
  }
  count += files.length;
}
console.log(`vendor-assets: ${count} files into ${targets.map((t) => t.out).join(", ")}`);
