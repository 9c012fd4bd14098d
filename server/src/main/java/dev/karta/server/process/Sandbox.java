package dev.karta.server.process;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts harnesses inside their {@link Confinement}: tenant code that must touch nothing but its
 * own workspace and HOME. Their HOME and XDG directories are the confinement's HOME, their working
 * directory its workspace; in the sandbox both appear at fixed paths ({@link #WORKSPACE},
 * {@link #HOME}).
 *
 * <p><b>{@link Mode#BWRAP}</b> runs the harness under bubblewrap in namespaces of its own (user,
 * mount, PID, network, IPC, UTS, cgroup), as an unprivileged user with every capability dropped
 * and no way to create further user namespaces. It sees {@code /usr} and a few files of
 * {@code /etc} read-only, the harness executable's directory and the operator's
 * {@code readOnlyPaths} read-only, its workspace and HOME read-write, a small private
 * {@code /tmp}, its own {@code /proc}; nothing of the data directory, the database, other
 * sessions or other trees.
 *
 * <p><b>Network</b> ({@link Network}): {@code OUTBOUND} gives the sandbox a network namespace of
 * its own behind slirp4netns (user-mode networking) started with {@code --disable-host-loopback},
 * and routes that refuse the host's own addresses and the private, shared and link-local ranges:
 * the harness reaches its model API on the internet, never a service of the host or its private
 * network. {@code NONE} leaves it only its own loopback; {@code HOST} shares the host's network,
 * loopback included (an operator's explicit choice, e.g. for a model stand-in on loopback).
 *
 * <p><b>Overlay workspaces.</b> A {@link Confinement.Overlay} is mounted inside the child's own
 * mount namespace (the launcher's containment gives it one), so it disappears with the child and
 * never shows on the host; {@link #overlays()} says whether this host allows it.
 *
 * <p>The setup runs as a short {@code /bin/sh} script in front of the harness (its text is
 * {@link #SCRIPT}); every value reaches it as an argv entry, never spliced into shell text.
 */
public final class Sandbox {
    private static final Logger LOG = LoggerFactory.getLogger(Sandbox.class);
    /** The size of the private {@code /tmp} of a sandboxed harness. */
    static final long TMP_BYTES = 256L << 20;
    /** The size of the private {@code /dev/shm} of a sandboxed harness. */
    static final long SHM_BYTES = 64L << 20;
    /**
     * Where a sandboxed harness finds its workspace and HOME, whatever their paths on the host: a
     * harness that keys its state by working directory (Claude Code) finds it again on any server.
     */
    public static final Path WORKSPACE = Path.of("/workspace");
    public static final Path HOME = Path.of("/home/karta");
    /** The user and group a harness runs as inside the sandbox. */
    static final int SANDBOX_UID = 1000;

    /** The files of the sandbox's {@code /etc} that Karta writes, rather than binding the host's. */
    private static final List<String> ETC_FILES = List.of("passwd", "group", "hosts", "resolv.conf");
    /** The files of {@code /etc} a harness may read: TLS roots, the dynamic linker, time and name-service basics. */
    private static final List<String> ETC = List.of("ssl", "ca-certificates", "ca-certificates.conf", "alternatives",
            "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "host.conf", "gai.conf",
            "mime.types", "protocols", "services");
    /** Networks a sandbox with outbound network never reaches: private, shared, link-local and special ranges. */
    private static final List<String> BLOCKED = List.of("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10",
            "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3");
    private static final Duration PROBE_TIME = Duration.ofSeconds(20);

    /**
     * The setup in front of a confined harness. Arguments: overlay mount options (or empty), the
     * workspace, the network mode, the run directory (for the FIFOs of {@code outbound}), the
     * turn's control groups (space-separated; the script moves itself in before anything else, so
     * every process of the turn is inside), the number of blocked networks and the networks, {@code --}, then the command. With
     * {@code outbound}, a holder process creates the network namespace; slirp4netns connects it
     * and the routes that refuse the blocked networks go in; only then does the command start
     * inside it. The namespace belongs to this (privileged) side, so nothing in the sandbox can
     * change its routes.
     */
    static final String SCRIPT = """
            set -eu
            harness_path=${PATH-}
            PATH=/usr/sbin:/usr/bin:/sbin:/bin
            opts=$1 ws=$2 net=$3 run=$4 groups=$5 count=$6
            shift 6
            for group in $groups; do echo $$ >"$group/cgroup.procs"; done
            blocked=""
            while [ "$count" -gt 0 ]; do blocked="$blocked $1"; shift; count=$((count - 1)); done
            shift
            fail() { echo "karta-sandbox: $1" >&2; exit 125; }
            if [ -n "$opts" ]; then
              mount -t overlay karta-workspace -o "$opts" "$ws"
            fi
            cd "$ws"
            if [ "$net" = outbound ]; then
              nsenter=$(command -v nsenter)
              mkfifo "$run/netns" "$run/ready"
              # The holder reports its pid once inside its namespace; a failed unshare reports that.
              { unshare --net /bin/sh -c 'echo $$ >"$1"; exec sleep 2147483647' netns "$run/netns" \
                  || echo failed >"$run/netns"; } &
              holder=""
              read -r holder <"$run/netns" || true
              case "$holder" in ''|*[!0-9]*) fail "could not create a network namespace (unshare --net)";; esac
              [ "$(readlink /proc/$holder/ns/net)" != "$(readlink /proc/self/ns/net)" ] || fail "no network namespace"
              slirp4netns --configure --disable-host-loopback --mtu 65520 --ready-fd 7 "$holder" tap0 \
                7>"$run/ready" >/dev/null 2>"$run/slirp.err" &
              ready=""
              read -r ready <"$run/ready" || true
              [ "$ready" = 1 ] || fail "slirp4netns failed: $(cat "$run/slirp.err")"
              for range in $blocked; do echo "route add prohibit $range"; done | "$nsenter" --target "$holder" --net ip -batch -
              PATH=$harness_path
              unset PWD OLDPWD
              exec "$nsenter" --net=/proc/$holder/ns/net -- "$@"
            fi
            PATH=$harness_path
            unset PWD OLDPWD
            exec "$@"
            """;

    /** How harnesses are contained. */
    public enum Mode {
        /** Under bubblewrap; see the class comment. */
        BWRAP,
        /** Without a sandbox: harnesses run as the server's user and can read what it can (operator's choice). */
        NONE;

        public static Mode parse(String value) {
            return parseEnum(Mode.class, value, "--sandbox", "bwrap|none");
        }
    }

    /** What network a sandboxed harness gets; see the class comment. */
    public enum Network {
        OUTBOUND, NONE, HOST;

        public static Network parse(String value) {
            return parseEnum(Network.class, value, "--harness-network", "outbound|none|host");
        }
    }

    /**
     * What the operator asked for: a null mode or network means the strongest this host allows
     * ({@code bwrap} when bubblewrap works, {@code outbound} when slirp4netns does too).
     * {@code readOnlyPaths} are more host paths harnesses may read (where a harness CLI or its
     * runtime is installed outside {@code /usr}).
     */
    public record Settings(Mode mode, Network network, List<Path> readOnlyPaths, long maxMemoryBytes,
                           int maxProcesses) {
        public static final long DEFAULT_MAX_MEMORY_BYTES = 2L << 30;
        public static final int DEFAULT_MAX_PROCESSES = 512;
        public static final Settings DEFAULTS = new Settings(null, null, List.of());

        /** Settings with the default per-turn memory and process limits. */
        public Settings(Mode mode, Network network, List<Path> readOnlyPaths) {
            this(mode, network, readOnlyPaths, DEFAULT_MAX_MEMORY_BYTES, DEFAULT_MAX_PROCESSES);
        }

        public Settings {
            if (maxMemoryBytes < 16L << 20 || maxProcesses < 16) {
                throw new IllegalArgumentException("--harness-max-memory must be at least 16 MiB and "
                        + "--harness-max-processes at least 16");
            }
            readOnlyPaths = readOnlyPaths == null ? List.of() : List.copyOf(readOnlyPaths);
            for (Path path : readOnlyPaths) {
                if (!path.isAbsolute()) {
                    throw new IllegalArgumentException("--harness-read-only paths must be absolute, got '" + path + "'");
                }
            }
            if (mode == Mode.NONE && network != null && network != Network.HOST) {
                throw new IllegalArgumentException("--harness-network " + network.name().toLowerCase(Locale.ROOT)
                        + " needs the sandbox: without it (--sandbox none) harnesses share the host's network");
            }
        }
    }

    /** What every sandbox of this server shares, whatever its mode. */
    private record Host(ProcessLauncher launcher, List<Path> readOnlyPaths, Path stateDir, List<Path> hidden,
                        String bwrap, TurnCgroups cgroups) {
    }

    private final Host host;
    private final ProcessLauncher launcher;
    private final Mode mode;
    private final Network network;
    private final boolean overlays;
    private final List<String> blocked;

    private Sandbox(Host host, Mode mode, Network network, boolean overlays, List<String> blocked) {
        this.host = host;
        this.launcher = host.launcher();
        this.mode = mode;
        this.network = network;
        this.overlays = overlays;
        this.blocked = blocked;
    }

    /**
     * Sets up the sandbox this host allows, within what {@code settings} asks, and logs it. Its
     * files (per-turn FIFOs, the generated {@code /etc} files) go to {@code DATA_DIR/sandbox};
     * overlays are tried in {@code workspacesDir}, where they will be mounted. Harnesses never see
     * the data dir or the workspaces dir (beyond their own workspace). Fails when the operator
     * asked for something that does not work here.
     */
    public static Sandbox create(ProcessLauncher launcher, Settings settings, Path dataDir, Path workspacesDir) {
        List<Path> hidden = List.of(dataDir, workspacesDir);
        for (Path path : settings.readOnlyPaths()) {
            String overlap = overlap(path, hidden);
            if (overlap != null) {
                throw new IllegalArgumentException("--harness-read-only " + path + " " + overlap);
            }
        }
        Path stateDir = dataDir.resolve("sandbox");
        try {
            Files.createDirectories(stateDir.resolve("run"));
            writeEtc(stateDir.resolve("etc"));
            clean(stateDir.resolve("run"));
        } catch (IOException e) {
            throw new UncheckedIOException("could not prepare the sandbox directory " + stateDir, e);
        }
        Host host = new Host(launcher, settings.readOnlyPaths(), stateDir, hidden,
                ProcessLauncher.find("bwrap", launcher.baseEnvironment().get("PATH")),
                TurnCgroups.detect(settings.maxMemoryBytes(), settings.maxProcesses()));
        boolean overlays = launcher.containment() != ProcessLauncher.Containment.PROCESS_TREE
                && new Sandbox(host, Mode.NONE, Network.HOST, true, List.of()).probeOverlay(workspacesDir);

        Mode mode = settings.mode();
        String bwrapFailure = host.bwrap() == null ? "bwrap is not installed (Debian package bubblewrap)"
                : new Sandbox(host, Mode.BWRAP, Network.NONE, false, List.of()).probe();
        if (mode == Mode.BWRAP && bwrapFailure != null) {
            throw new IllegalStateException("--sandbox bwrap does not work here: " + bwrapFailure);
        }
        if (mode == null) {
            mode = bwrapFailure == null ? Mode.BWRAP : Mode.NONE;
            if (mode == Mode.NONE) {
                LOG.warn("harnesses run WITHOUT a sandbox ({}): tenant code can read what the server's user can; "
                        + "install bubblewrap, or pass --sandbox none to make this choice explicit", bwrapFailure);
            }
        }
        if (mode == Mode.NONE) {
            if (settings.mode() == Mode.NONE) {
                LOG.warn("--sandbox none: harnesses run without a sandbox, as the server's user, on the host's network");
            }
            return new Sandbox(host, Mode.NONE, Network.HOST, overlays, List.of());
        }
        Network network = settings.network();
        List<String> blocked = List.of();
        if (network == null || network == Network.OUTBOUND) {
            blocked = blockedNetworks();
            String outboundFailure = new Sandbox(host, Mode.BWRAP, Network.OUTBOUND, false, blocked).probe();
            if (network == Network.OUTBOUND && outboundFailure != null) {
                throw new IllegalStateException("--harness-network outbound does not work here: " + outboundFailure);
            }
            if (network == null) {
                network = outboundFailure == null ? Network.OUTBOUND : Network.NONE;
                if (network == Network.NONE) {
                    LOG.warn("harnesses get NO network ({}): install slirp4netns for outbound-only network, or pass "
                            + "--harness-network none|host to choose", outboundFailure);
                }
            }
        }
        Sandbox sandbox = new Sandbox(host, Mode.BWRAP, network, overlays,
                network == Network.OUTBOUND ? blocked : List.of());
        LOG.info("harnesses run under bubblewrap, network {}, workspaces {}", sandbox.describeNetwork(),
                overlays ? "overlays" : "copies");
        return sandbox;
    }

    public Mode mode() {
        return mode;
    }

    public Network network() {
        return network;
    }

    /** Whether {@link Confinement.Overlay} workspaces can be mounted here; else workspaces are copies. */
    public boolean overlays() {
        return overlays;
    }

    /**
     * Starts {@code command} confined; its working directory is the workspace, whatever the command says.
     *
     * @throws IOException when the command cannot be run (its executable is missing, or lies in a
     *                     folder a harness must not see)
     */
    public Child start(ProcessLauncher.Command command, Confinement confinement) throws IOException {
        Path run = network == Network.OUTBOUND && mode == Mode.BWRAP
                ? Files.createDirectories(host.stateDir().resolve("run").resolve(UUID.randomUUID().toString())) : null;
        List<Path> groups = List.of();
        try {
            groups = host.cgroups().create();
            Child child = launcher.start(confined(command, confinement, run, groups), false);
            List<Path> made = groups;
            child.process().onExit().whenComplete((p, e) -> {
                if (run != null) {
                    delete(run);
                }
                host.cgroups().remove(made);
            });
            return child;
        } catch (IOException | RuntimeException e) {
            if (run != null) {
                delete(run);
            }
            host.cgroups().remove(groups);
            throw e;
        }
    }

    /** The command that runs {@code command} in {@code confinement}: the setup script, then bubblewrap or not. */
    private ProcessLauncher.Command confined(ProcessLauncher.Command command, Confinement confinement, Path run,
                                             List<Path> groups) throws IOException {
        if (confinement.overlay() != null && !overlays) {
            throw new IOException("overlay workspaces are not available here");
        }
        Map<String, String> env = environment(command.environment(), mode == Mode.BWRAP ? HOME : confinement.home());
        Path executable = launcher.resolve(command);
        boolean outbound = run != null;
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", SCRIPT, "karta-sandbox",
                overlayOptions(confinement.overlay()), confinement.workspace().toString(),
                (mode == Mode.BWRAP ? network : Network.HOST).name().toLowerCase(Locale.ROOT),
                outbound ? run.toString() : "",
                String.join(" ", groups.stream().map(Path::toString).toList()),
                Integer.toString(outbound ? blocked.size() : 0)));
        if (outbound) {
            argv.addAll(blocked);
        }
        argv.add("--");
        if (mode == Mode.BWRAP) {
            argv.addAll(bwrapArgv(executable, confinement));
        }
        argv.add(executable.toString());
        argv.addAll(command.argv().subList(1, command.argv().size()));
        return new ProcessLauncher.Command(argv, confinement.workspace(), env, command.config());
    }

    private List<String> bwrapArgv(Path executable, Confinement confinement) throws IOException {
        Path etc = host.stateDir().resolve("etc");
        if (!ETC_FILES.stream().allMatch(name -> Files.isRegularFile(etc.resolve(name)))) {
            writeEtc(etc); // the data dir, a cache, was wiped under the running server
        }
        List<String> argv = new ArrayList<>(List.of(host.bwrap(), "--unshare-user", "--unshare-ipc", "--unshare-pid",
                "--unshare-uts", "--unshare-cgroup-try", "--uid", Integer.toString(SANDBOX_UID),
                "--gid", Integer.toString(SANDBOX_UID), "--disable-userns", "--cap-drop", "ALL", "--new-session",
                "--die-with-parent"));
        if (network == Network.NONE) {
            argv.add("--unshare-net"); // outbound: the script has entered the sandbox's own network namespace
        }
        // /tmp first: the binds below may lie under /tmp on the host, and must stay visible.
        argv.addAll(List.of("--size", Long.toString(TMP_BYTES), "--tmpfs", "/tmp",
                "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
                "--size", Long.toString(SHM_BYTES), "--tmpfs", "/dev/shm"));
        for (String link : List.of("bin", "sbin", "lib", "lib32", "lib64", "libx32")) {
            Path top = Path.of("/", link);
            if (Files.isSymbolicLink(top)) {
                argv.addAll(List.of("--symlink", Files.readSymbolicLink(top).toString(), top.toString()));
            } else if (Files.isDirectory(top)) {
                argv.addAll(List.of("--ro-bind", top.toString(), top.toString()));
            }
        }
        for (String name : ETC) {
            Path file = Path.of("/etc", name);
            if (Files.exists(file)) {
                argv.addAll(List.of("--ro-bind", file.toString(), file.toString()));
            }
        }
        for (String name : List.of("passwd", "group", "hosts")) {
            argv.addAll(List.of("--ro-bind", host.stateDir().resolve("etc").resolve(name).toString(), "/etc/" + name));
        }
        Path resolv = network == Network.OUTBOUND ? host.stateDir().resolve("etc").resolve("resolv.conf") : Path.of("/etc/resolv.conf");
        if (network != Network.NONE && Files.exists(resolv)) {
            argv.addAll(List.of("--ro-bind", resolv.toString(), "/etc/resolv.conf"));
        }
        Set<Path> readable = new LinkedHashSet<>();
        readable.add(executable.getParent());
        readable.add(executable.toRealPath().getParent());
        readable.addAll(host.readOnlyPaths());
        for (Path path : readable) {
            String overlap = overlap(path, host.hidden());
            if (overlap != null) {
                throw new IOException("the harness executable's folder " + path + " " + overlap
                        + "; install the harness elsewhere");
            }
            if (!path.startsWith("/usr") && Files.exists(path)) {
                argv.addAll(List.of("--ro-bind", path.toString(), path.toString()));
            }
        }
        argv.addAll(List.of("--bind", confinement.workspace().toString(), WORKSPACE.toString(),
                "--bind", confinement.home().toString(), HOME.toString(), "--chdir", WORKSPACE.toString(),
                // The root and the folders bubblewrap made for the binds: read-only, or a harness could fill memory.
                "--remount-ro", "/", "--"));
        return argv;
    }

    /** The command's environment with HOME and the XDG base directories inside {@code homeDir}. */
    static Map<String, String> environment(Map<String, String> base, Path homeDir) {
        Map<String, String> env = new LinkedHashMap<>(base);
        String home = homeDir.toString();
        env.put("HOME", home);
        env.put("XDG_CONFIG_HOME", home + "/.config");
        env.put("XDG_DATA_HOME", home + "/.local/share");
        env.put("XDG_STATE_HOME", home + "/.local/state");
        env.put("XDG_CACHE_HOME", home + "/.cache");
        return env;
    }

    /**
     * Why {@code path} must not be shown to a harness: it holds, or lies in, one of the
     * {@code hidden} folders; null when it may.
     */
    static String overlap(Path path, List<Path> hidden) {
        Path normal = path.toAbsolutePath().normalize();
        for (Path folder : hidden) {
            Path other = folder.toAbsolutePath().normalize();
            if (other.startsWith(normal) || normal.startsWith(other)) {
                return "overlaps " + other + ", which harnesses must never see";
            }
        }
        return null;
    }

    /** What {@code /healthz} says of the sandbox, in this order: {@code sandbox}, {@code harness_network}. */
    public Map<String, Object> health() {
        Map<String, Object> health = new LinkedHashMap<>();
        health.put("sandbox", describeMode());
        health.put("harness_network", describeNetwork());
        return health;
    }

    /** {@code bwrap} or {@code none}, for {@code /healthz} and the logs. */
    public String describeMode() {
        return mode.name().toLowerCase(Locale.ROOT);
    }

    /** {@code outbound}, {@code none} or {@code host}. */
    public String describeNetwork() {
        return network.name().toLowerCase(Locale.ROOT);
    }

    private static String overlayOptions(Confinement.Overlay overlay) throws IOException {
        if (overlay == null) {
            return "";
        }
        for (Path path : List.of(overlay.lower(), overlay.upper(), overlay.scratch())) {
            String text = path.toString();
            if (text.contains(",") || text.contains(":") || text.contains("\\")) {
                throw new IOException("an overlay path must not contain ',', ':' or '\\': " + text);
            }
        }
        return "lowerdir=" + overlay.lower() + ",upperdir=" + overlay.upper() + ",workdir=" + overlay.scratch();
    }

    /** Runs {@code true} as this sandbox would run a harness: null when it worked, else why not. */
    private String probe() {
        Path dir = host.stateDir().resolve("probe-" + UUID.randomUUID());
        try {
            Path workspace = Files.createDirectories(dir.resolve("workspace"));
            Path home = Files.createDirectories(dir.resolve("home"));
            String trueExecutable = ProcessLauncher.find("true", launcher.baseEnvironment().get("PATH"));
            if (trueExecutable == null) {
                return "no 'true' executable";
            }
            return runProbe(new ProcessLauncher.Command(List.of(trueExecutable), workspace, launcher.baseEnvironment()),
                    Confinement.directory(workspace, home));
        } catch (IOException e) {
            return e.getMessage();
        } finally {
            delete(dir);
        }
    }

    /** Whether an overlay mounts in {@code workspacesDir} and keeps its lower folder untouched. */
    private boolean probeOverlay(Path workspacesDir) {
        Path dir = workspacesDir.resolve(".overlay-probe-" + UUID.randomUUID());
        try {
            Confinement.Overlay overlay = new Confinement.Overlay(Files.createDirectories(dir.resolve("lower")),
                    Files.createDirectories(dir.resolve("upper")), Files.createDirectories(dir.resolve("scratch")));
            Path workspace = Files.createDirectories(dir.resolve("workspace"));
            Path home = Files.createDirectories(dir.resolve("home"));
            Files.writeString(overlay.lower().resolve("probe"), "lower");
            String sh = ProcessLauncher.find("sh", launcher.baseEnvironment().get("PATH"));
            String failure = runProbe(new ProcessLauncher.Command(List.of(sh, "-c", "echo upper > probe"), workspace,
                    launcher.baseEnvironment()), new Confinement(workspace, home, overlay));
            boolean works = failure == null && Files.readString(overlay.lower().resolve("probe")).equals("lower")
                    && Files.readString(overlay.upper().resolve("probe")).strip().equals("upper");
            if (!works) {
                LOG.info("overlay workspaces unavailable in {} ({}); session workspaces are copies", workspacesDir,
                        failure == null ? "the probe wrote through" : failure);
            }
            return works;
        } catch (IOException | RuntimeException e) {
            LOG.info("overlay workspaces unavailable in {} ({}); session workspaces are copies", workspacesDir,
                    e.toString());
            return false;
        } finally {
            delete(dir);
        }
    }

    /** Runs a probe to its end within {@link #PROBE_TIME}: null when it exited 0, else why not. */
    private String runProbe(ProcessLauncher.Command command, Confinement confinement) throws IOException {
        Path run = network == Network.OUTBOUND && mode == Mode.BWRAP
                ? Files.createDirectories(host.stateDir().resolve("run").resolve(UUID.randomUUID().toString())) : null;
        StringBuilder output = new StringBuilder();
        try {
            ProcessLauncher.Outcome outcome = launcher.run(confined(command, confinement, run, List.of()), PROBE_TIME, 64 * 1024,
                    line -> output.append(line).append('\n'));
            if (outcome.timedOut()) {
                return "timed out after " + PROBE_TIME.toSeconds() + " s";
            }
            return outcome.exitCode() == 0 ? null : "exit " + outcome.exitCode() + ": " + output.toString().strip();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        } finally {
            if (run != null) {
                delete(run);
            }
        }
    }

    /** Every IPv4 address of this host, and the networks they are on, with the always-blocked ranges. */
    static List<String> blockedNetworks() {
        Set<String> networks = new LinkedHashSet<>(BLOCKED);
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (InterfaceAddress address : nic.getInterfaceAddresses()) {
                    InetAddress ip = address.getAddress();
                    if (ip instanceof Inet4Address && !ip.isLoopbackAddress()) {
                        networks.add(ip.getHostAddress() + "/32");
                        int prefix = address.getNetworkPrefixLength();
                        if (prefix > 0 && prefix <= 32) {
                            networks.add(network(ip.getAddress(), prefix) + "/" + prefix);
                        }
                    }
                }
            }
        } catch (SocketException e) {
            LOG.warn("could not list this host's addresses ({}); only the private ranges are blocked", e.toString());
        }
        return List.copyOf(networks);
    }

    private static String network(byte[] address, int prefix) {
        int value = ((address[0] & 0xff) << 24) | ((address[1] & 0xff) << 16) | ((address[2] & 0xff) << 8)
                | (address[3] & 0xff);
        int masked = prefix == 32 ? value : value & ~(-1 >>> prefix);
        return ((masked >>> 24) & 0xff) + "." + ((masked >>> 16) & 0xff) + "." + ((masked >>> 8) & 0xff) + "."
                + (masked & 0xff);
    }

    /** Writes {@link #ETC_FILES}, each replaced whole, so a harness starting meanwhile reads the old or the new. */
    private static void writeEtc(Path etc) throws IOException {
        Files.createDirectories(etc);
        String user = "karta:x:" + SANDBOX_UID + ":" + SANDBOX_UID + ":Karta harness:" + HOME + ":/usr/sbin/nologin\n";
        writeWhole(etc.resolve("passwd"), "root:x:0:0:root:/root:/usr/sbin/nologin\n" + user
                + "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
        writeWhole(etc.resolve("group"), "root:x:0:\nkarta:x:" + SANDBOX_UID + ":\nnogroup:x:65534:\n");
        writeWhole(etc.resolve("hosts"), "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        // slirp4netns's built-in DNS forwarder.
        writeWhole(etc.resolve("resolv.conf"), "nameserver 10.0.2.3\n");
    }

    private static void writeWhole(Path file, String text) throws IOException {
        Path temp = file.resolveSibling(file.getFileName() + "." + UUID.randomUUID() + ".tmp");
        Files.writeString(temp, text);
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static void clean(Path dir) {
        try (Stream<Path> entries = Files.list(dir)) {
            entries.forEach(Sandbox::delete);
        } catch (IOException e) {
            LOG.debug("could not clean {}: {}", dir, e.toString());
        }
    }

    private static void delete(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.debug("could not delete {}: {}", dir, e.toString());
        }
    }

    private static <E extends Enum<E>> E parseEnum(Class<E> type, String value, String flag, String choices) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return Enum.valueOf(type, value.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(flag + " must be one of " + choices + ", got '" + value + "'");
        }
    }

    @Override
    public String toString() {
        return "Sandbox[" + describeMode() + ", network " + describeNetwork() + (overlays ? ", overlays" : "") + "]";
    }
}
