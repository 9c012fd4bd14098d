/**
 * Shared process plumbing: the one way the server starts a child process (harness, image
 * builder, ssh), with an explicit environment, limits, and a kill that takes the whole tree the
 * child started ({@link dev.karta.server.process.ProcessLauncher}); and the sandbox harnesses run
 * in ({@link dev.karta.server.process.Sandbox}: bubblewrap, outbound-only network, overlay
 * workspaces). Feature code says what to run; this package says how it is contained.
 */
package dev.karta.server.process;
