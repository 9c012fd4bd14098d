/**
 * Sessions: conversations with a project, each pinned at creation to the release active then, so
 * deploys and rollbacks only change what new sessions get. A turn runs the release's harness
 * (Claude Code or OpenCode) as a child process in the session's own workspace and HOME, one turn at
 * a time per session (claimed in the database), and maps its JSON-lines output to Karta message
 * events.
 */
package dev.karta.server.sessions;
