import adapter from "@sveltejs/adapter-static";
import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vite";

// Kit 3 takes its options here (it refuses svelte.config.js).
export default defineConfig({
  plugins: [
    sveltekit({
      adapter: adapter({ fallback: "index.html" }),
    }),
  ],
  server: { fs: { allow: [".."] } },
});
