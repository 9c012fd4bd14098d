/**
 * The git door: every project is a bare repository served over smart HTTP at
 * {@code /git/{project}.git} (JGit inside Javalin's Jetty, keys checked by a servlet filter). A
 * push to the deploy branch runs the one ingest pipeline while the push is open and streams the
 * build log back as {@code remote:} lines; a failed build rejects the ref update. Also resolves
 * and exports commits for deploy-by-commit. Owns the {@link dev.karta.server.ingest.git.RepoStore}
 * seam: where every git repository is kept.
 */
package dev.karta.server.ingest.git;
