package dev.karta.server.process;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A control group of its own for each harness turn, under the server's own groups, so that one
 * tenant's fork bomb or memory hog hits its own limits instead of the server's and the other
 * tenants': {@code pids.max} caps its processes and threads, the memory limit its RAM (the kernel
 * kills inside the group when it is exceeded). The sandbox script moves itself into the groups
 * before it starts the harness, so every process of the turn is inside from its first fork.
 *
 * <p>Uses the cgroup v1 {@code pids} and {@code memory} hierarchies, or cgroup v2 where the
 * server's group may hand both controllers to children; where neither is writable (not root, no
 * delegation) turns run without these limits, and the start-up log says so.
 */
final class TurnCgroups {
    private static final Logger LOG = LoggerFactory.getLogger(TurnCgroups.class);
    private static final Path ROOT = Path.of("/sys/fs/cgroup");
    private static final String PREFIX = "karta-turn-";

    /** Where each limit is written: a controller's folder for this server and the limit file in a child of it. */
    private record Controller(Path base, String limitFile, long limit) {
    }

    private final List<Controller> controllers;

    private TurnCgroups(List<Controller> controllers) {
        this.controllers = List.copyOf(controllers);
    }

    /** The groups this host lets the server make, with these limits; logs what it found. */
    static TurnCgroups detect(long maxMemoryBytes, int maxProcesses) {
        Map<String, String> paths = ownGroups();
        List<Controller> found = new ArrayList<>();
        String v2 = paths.get("");
        if (paths.containsKey("pids") && paths.containsKey("memory")) {
            found.add(new Controller(ROOT.resolve("pids" + paths.get("pids")), "pids.max", maxProcesses));
            found.add(new Controller(ROOT.resolve("memory" + paths.get("memory")), "memory.limit_in_bytes",
                    maxMemoryBytes));
        } else if (v2 != null) {
            Path base = ROOT.resolve(v2.substring(1));
            found.add(new Controller(base, "pids.max", maxProcesses));
            found.add(new Controller(base, "memory.max", maxMemoryBytes));
        }
        if (found.stream().anyMatch(c -> c.base().toString().matches(".*\\s.*"))) {
            found.clear(); // the sandbox script takes the groups as one space-separated argument
        }
        TurnCgroups cgroups = new TurnCgroups(found);
        try {
            if (found.isEmpty()) {
                throw new IOException("none found");
            }
            cgroups.sweepLeftovers();
            cgroups.remove(cgroups.create());
            LOG.info("each harness turn runs in control groups of its own: at most {} processes and {} MiB of memory",
                    maxProcesses, maxMemoryBytes >> 20);
            return cgroups;
        } catch (IOException | RuntimeException e) {
            LOG.warn("harness turns run without process and memory limits: no writable cgroup pids and memory "
                    + "controllers here ({})", e.getMessage());
            return new TurnCgroups(List.of());
        }
    }

    /** The server's own group per controller, from {@code /proc/self/cgroup} (v2: the key ""). */
    private static Map<String, String> ownGroups() {
        Map<String, String> paths = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
                String[] parts = line.split(":", 3);
                if (parts.length == 3) {
                    for (String controller : parts[1].split(",")) {
                        paths.put(controller, parts[2]);
                    }
                }
            }
        } catch (IOException e) {
            // No /proc/self/cgroup: no groups.
        }
        return paths;
    }

    /**
     * Removes the empty groups of turns that ended with a server that stopped before it could
     * (a group with a process cannot be removed). Only groups older than a minute: another server
     * of this host may have just made one for a turn that is starting.
     */
    private void sweepLeftovers() throws IOException {
        long cutoff = System.currentTimeMillis() - 60_000;
        for (Controller controller : controllers) {
            try (Stream<Path> groups = Files.list(controller.base())) {
                for (Path group : groups.filter(g -> g.getFileName().toString().startsWith(PREFIX)).toList()) {
                    try {
                        if (Files.getLastModifiedTime(group).toMillis() < cutoff) {
                            Files.deleteIfExists(group);
                        }
                    } catch (IOException e) {
                        // Still in use, or gone meanwhile.
                    }
                }
            }
        }
    }

    /** Makes the groups of one turn, with their limits; the caller removes them when the turn is over. */
    List<Path> create() throws IOException {
        if (controllers.isEmpty()) {
            return List.of();
        }
        String name = PREFIX + UUID.randomUUID();
        List<Path> made = new ArrayList<>();
        try {
            for (Controller controller : controllers) {
                Path group = controller.base().resolve(name);
                if (!made.contains(group)) {
                    Files.createDirectory(group);
                    made.add(group);
                }
                Files.writeString(group.resolve(controller.limitFile()), Long.toString(controller.limit()));
            }
            return made;
        } catch (IOException | RuntimeException e) {
            remove(made);
            throw e;
        }
    }

    /** Removes a turn's groups once their processes are gone (a group with a process cannot be removed). */
    void remove(List<Path> groups) {
        for (Path group : groups) {
            for (int attempt = 0; attempt < 50; attempt++) {
                try {
                    Files.deleteIfExists(group);
                    break;
                } catch (IOException e) {
                    try {
                        Thread.sleep(20); // its last processes are still being reaped
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }
}
