/**
 * Bound repositories and GitHub webhooks (docs/github.md): a project bound to a repository pulls its
 * commits from there, a GitHub binding through the tarball API and any other URL through a git
 * fetch into a per-project cache, both through the same materializer as an upload. A signed
 * {@code push} webhook to the bound branch deploys its commit through the one ingest pipeline.
 * Every outbound connection goes through {@link dev.karta.server.ingest.github.Egress}: tenants'
 * URLs may not reach the server's own network, and every fetch has timeouts and a deadline.
 */
package dev.karta.server.ingest.github;
