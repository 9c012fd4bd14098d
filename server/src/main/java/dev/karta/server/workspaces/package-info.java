/**
 * Sessions' workspaces: each session's own copy of its release tree (or an overlay on it) and its
 * own HOME on this machine, prepared off the creation path, measured against the quotas, released
 * when the session ends or the machine keeps too many; and the harness state (the HOME) saved in
 * the store after every turn and restored before the next when the local copy is missing or stale.
 */
package dev.karta.server.workspaces;
