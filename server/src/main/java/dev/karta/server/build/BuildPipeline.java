package dev.karta.server.build;

import java.io.IOException;

/**
 * What a build does with a materialized tree: read {@code karta.toml}, detect harness and build
 * kind, and run the image builder when one is configured. Without one, dockerfile and buildpack
 * releases run as file_copy (their recorded kind stays what was detected), and the log says so.
 */
public final class BuildPipeline {
    private final ImageBuilder imageBuilder;

    public BuildPipeline(ImageBuilder imageBuilder) {
        this.imageBuilder = imageBuilder;
    }

    public Detection build(String projectName, Tree tree, BuildLog log) throws IOException, InterruptedException {
        KartaToml toml = KartaToml.read(tree);
        if (toml == KartaToml.ABSENT) {
            log.line("No karta.toml: using defaults");
        } else {
            log.line("Read karta.toml" + (toml.entryPoint() == null ? "" : " (entry_point " + toml.entryPoint() + ")"));
            toml.warnings().forEach(w -> log.line("warning: " + w));
        }
        Detection detection = Detection.of(projectName, tree, toml);
        log.line("Detected harness " + detection.harness() + ", build kind " + detection.buildKind());
        if (!detection.buildKind().equals("file_copy")) {
            if (imageBuilder.isConfigured()) {
                imageBuilder.build(tree, detection, log);
            } else {
                log.line("No image builder configured: running this " + detection.buildKind()
                        + " release as file_copy");
            }
        }
        log.line("Image " + detection.imageRef());
        return detection;
    }
}
