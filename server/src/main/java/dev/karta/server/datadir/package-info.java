/**
 * The storage of one machine: release archives, release trees and git repositories under
 * {@code --data-dir} behind the {@code ReleaseFiles} and {@code RepoStore} seams (or, with
 * {@code --storage database}, the same files as a cache: {@code ReleaseCache}), sessions'
 * workspaces (a local cache) behind {@code WorkspaceFiles}, and the owner-only modes of the data
 * dir and secret files. Nothing else touches the data dir.
 */
package dev.karta.server.datadir;
