/**
 * An empty Deno program: the runtime's own start-up and exit, under the
 * same deno.json as kcm. Subtracted from other figures to see what module
 * loading costs.
 */
