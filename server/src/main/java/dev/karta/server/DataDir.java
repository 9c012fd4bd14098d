package dev.karta.server;

import java.nio.file.Path;

/**
 * Where things live under {@code --data-dir}: uploaded archives by sha256, release trees by
 * content digest (shared by every project, so identical content is stored once), and each
 * project's bare git repository.
 */
public record DataDir(Path root) {

    public Path artifacts() {
        return root.resolve("artifacts");
    }

    public Path artifact(String sha256Hex) {
        return artifacts().resolve(sha256Hex + ".tar.gz");
    }

    public Path project(String projectId) {
        return root.resolve("projects").resolve(projectId);
    }

    /** The bare git repository {@code git push} fills ({@code /git/{project}.git}). */
    public Path repo(String projectId) {
        return project(projectId).resolve("repo.git");
    }

    public Path trees() {
        return root.resolve("trees");
    }

    /** The tree of a content digest ({@code sha256:…}). */
    public Path tree(String contentDigest) {
        return trees().resolve(contentDigest.substring(contentDigest.indexOf(':') + 1));
    }
}
