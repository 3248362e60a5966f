// The console's build: index.html + hashed assets into the Python package, byte-for-byte reproducible.
// No inline script or style ends up in the output (the server's Content-Security-Policy forbids both).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  esbuild: { jsx: "automatic", legalComments: "none" },
  build: {
    outDir: "../src/setpoint/server/console_dist",
    emptyOutDir: true,
    assetsDir: "assets",
    assetsInlineLimit: 0, // every asset a file of its own: nothing as a data: URL the CSP would have to allow
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: true,
  },
});
