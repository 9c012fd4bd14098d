package dev.karta.server.build;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * What a build does with a materialized tree: read {@code karta.toml}, detect harness and build
 * kind, and run the image builder when one is configured. Without one, dockerfile and buildpack
 * releases run as file_copy (their recorded kind stays what was detected), and the log says so.
 * The builder gets the project's current config vars that {@code [build] env} names, and only
 * those; a name the project has no var for is a warning in the build log.
 */
public final class BuildPipeline {
    private final ImageBuilder imageBuilder;
    private final Function<String, Map<String, String>> projectConfig;

    /** {@code projectConfig} gives a project's current config vars, decrypted, by project id. */
    public BuildPipeline(ImageBuilder imageBuilder, Function<String, Map<String, String>> projectConfig) {
        this.imageBuilder = imageBuilder;
        this.projectConfig = projectConfig;
    }

    public Detection build(String projectId, String projectName, Tree tree, BuildLog log)
            throws IOException, InterruptedException {
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
                imageBuilder.build(tree, detection, log, buildEnv(projectId, toml, log));
            } else {
                log.line("No image builder configured: running this " + detection.buildKind()
                        + " release as file_copy");
            }
        }
        log.line("Image " + detection.imageRef());
        return detection;
    }

    /** The config vars {@code [build] env} asks for, read (decrypted) only now that a builder runs. */
    private Map<String, String> buildEnv(String projectId, KartaToml toml, BuildLog log) {
        if (toml.buildEnv().isEmpty()) {
            return Map.of();
        }
        Map<String, String> config = projectConfig.apply(projectId);
        Map<String, String> env = new LinkedHashMap<>();
        for (String name : toml.buildEnv()) {
            String value = config.get(name);
            if (value == null) {
                log.line("warning: karta.toml: build.env names " + name + ", which is not a config var of this "
                        + "project; the builder runs without it");
            } else {
                env.put(name, value);
            }
        }
        if (!env.isEmpty()) {
            log.line("Passing config vars to the builder: " + String.join(", ", env.keySet()));
        }
        return env;
    }
}
