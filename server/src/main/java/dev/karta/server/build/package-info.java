/**
 * Turning a source archive into a release tree: the hostile-archive checks and atomic
 * extraction ({@link dev.karta.server.build.Materializer}), {@code karta.toml}, harness and build
 * kind detection, the optional image builder, and the build pipeline a worker runs per deploy.
 * Owns the {@link dev.karta.server.build.ReleaseFiles} seam: where archives and trees are stored.
 */
package dev.karta.server.build;
