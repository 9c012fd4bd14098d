package dev.karta.server.build;

import dev.karta.server.store.Digests;

/**
 * What a tree is: which harness runs it and how it is built. Harness: {@code .claude/} or {@code CLAUDE.md} → claude,
 * {@code .opencode/} → opencode, neither → opencode. Build kind, first match wins: a root
 * {@code Dockerfile} → dockerfile, {@code buildpack} in karta.toml → buildpack, else file_copy.
 * {@code imageRef} depends only on the project, the kind and the content digest.
 */
public record Detection(String harness, String buildKind, String imageRef) {

    public static Detection of(String project, Tree tree, KartaToml toml) {
        String harness;
        if (tree.hasFolder(".claude") || tree.hasFile("CLAUDE.md")) {
            harness = "claude";
        } else {
            harness = "opencode";
        }
        String kind;
        if (tree.hasFile("Dockerfile")) {
            kind = "dockerfile";
        } else if (toml.buildpack() != null) {
            kind = "buildpack";
        } else {
            kind = "file_copy";
        }
        return new Detection(harness, kind, imageRef(project, kind, tree.contentDigest()));
    }

    static String imageRef(String project, String kind, String contentDigest) {
        return "karta.local/" + project + "@sha256:" + Digests.sha256Hex(kind + "\n" + contentDigest);
    }
}
