package dev.karta.server.process;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Starts harnesses inside their {@link Confinement}. Their HOME and XDG directories are the
 * confinement's HOME, their working directory its workspace.
 */
public final class Sandbox {
    private final ProcessLauncher launcher;

    public Sandbox(ProcessLauncher launcher) {
        this.launcher = launcher;
    }

    /** Whether {@link Confinement.Overlay} workspaces can be mounted here; else workspaces are copies. */
    public boolean overlays() {
        return false;
    }

    /** Starts {@code command} confined; its working directory is the workspace, whatever the command says. */
    public Child start(ProcessLauncher.Command command, Confinement confinement) throws IOException {
        if (confinement.overlay() != null && !overlays()) {
            throw new IllegalArgumentException("overlay workspaces are not available here");
        }
        return launcher.start(new ProcessLauncher.Command(command.argv(), confinement.workspace(),
                environment(command.environment(), confinement)), false);
    }

    /** The command's environment with HOME and the XDG base directories inside the confinement's HOME. */
    static Map<String, String> environment(Map<String, String> base, Confinement confinement) {
        Map<String, String> env = new LinkedHashMap<>(base);
        String home = confinement.home().toString();
        env.put("HOME", home);
        env.put("XDG_CONFIG_HOME", home + "/.config");
        env.put("XDG_DATA_HOME", home + "/.local/share");
        env.put("XDG_STATE_HOME", home + "/.local/state");
        env.put("XDG_CACHE_HOME", home + "/.cache");
        return env;
    }
}
