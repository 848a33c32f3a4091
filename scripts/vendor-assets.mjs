// Copy the browser builds of our npm front-end dependencies into the web app's static folder,
// so the dashboard loads nothing from a CDN (it must work in an offline control room).
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const nm = join(root, "node_modules");
const out = join(root, "src", "phoenyra", "webapp", "static", "vendor");

// [from (under node_modules), to (under static/vendor)]
const files = [
  ["apexcharts/dist/apexcharts.min.js", "apexcharts/apexcharts.min.js"],
  ["apexcharts/LICENSE", "apexcharts/LICENSE"],
  ["socket.io-client/dist/socket.io.min.js", "socket.io/socket.io.min.js"],
  ["socket.io-client/LICENSE", "socket.io/LICENSE"],
  ["@fortawesome/fontawesome-free/css/fontawesome.min.css", "fontawesome/css/fontawesome.min.css"],
  ["@fortawesome/fontawesome-free/css/solid.min.css", "fontawesome/css/solid.min.css"],
  ["@fortawesome/fontawesome-free/webfonts/fa-solid-900.woff2", "fontawesome/webfonts/fa-solid-900.woff2"],
  ["@fortawesome/fontawesome-free/LICENSE.txt", "fontawesome/LICENSE.txt"],
  ["@fontsource-variable/inter/files/inter-latin-wght-normal.woff2", "inter/inter-latin-wght-normal.woff2"],
  ["@fontsource-variable/inter/LICENSE", "inter/LICENSE"],
];

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
console.log(`vendor-assets: ${files.length} files into ${out}`);
