import adapter from "@sveltejs/adapter-static";
import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vite";

// Kit 3 takes its options here (it refuses svelte.config.js). The wire protocol
// comes from the workspace package @pulseboard/protocol (linked in node_modules).
export default defineConfig({
  plugins: [
    sveltekit({
      adapter: adapter({ fallback: "index.html" }),
    }),
  ],
});
