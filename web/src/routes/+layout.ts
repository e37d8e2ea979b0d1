// A single-page app: the Deno server serves index.html for every page path.
export const ssr = false;
export const prerender = false;
