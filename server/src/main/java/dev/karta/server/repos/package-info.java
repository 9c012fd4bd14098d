/**
 * The git repositories a project builds from: its own bare repository behind the
 * {@link dev.karta.server.repos.RepoStore} seam (commit lookup, archive export), and a bound
 * repository (docs/github.md), pulled from GitHub through the tarball API or from any other URL
 * through a git fetch into a per-project cache. Every outbound connection goes through
 * {@link dev.karta.server.repos.Egress}: tenants' URLs may not reach the server's own network, and
 * every fetch has timeouts and a deadline.
 */
package dev.karta.server.repos;
