package dev.karta.server.build;

import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;

/**
 * The build log of one deploy: each line becomes a {@code build} entry of the project's log,
 * its control characters escaped (line breaks too) by the {@link LogStore}, so a line from a
 * builder or a karta.toml stays one line and cannot drive the terminal that shows it.
 */
public final class BuildLog {
    private final LogStore logs;
    private final String projectId;
    private final String deployId;

    public BuildLog(LogStore logs, String projectId, String deployId) {
        this.logs = logs;
        this.projectId = projectId;
        this.deployId = deployId;
    }

    public void line(String message) {
        logs.append(projectId, LogSource.BUILD, deployId, null, message);
    }
}
