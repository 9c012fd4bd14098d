/**
 * The git door: every project is a bare repository served over smart HTTP at
 * {@code /git/{project}.git} (JGit inside Javalin's Jetty, keys checked by a servlet filter). A
 * push to the deploy branch runs the one ingest pipeline while the push is open and streams the
 * build log back as {@code remote:} lines; a failed build rejects the ref update. Deploy by commit
 * resolves a commit of the project's repository (in {@code repos}) the same way.
 */
package dev.karta.server.ingest.git;
