package dev.karta.server.process;

import dev.karta.server.store.Threads;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts every child process of the server: harnesses, the image builder, ssh. A child is an argv
 * list (never a shell string) run in a working directory with an explicit environment, and it is
 * contained so that killing it kills everything it started, and nothing it started outlives the
 * server, even after {@code kill -9} of the JVM.
 *
 * <p><b>Containment</b> is detected once, at start, and logged:
 * <ul>
 * <li>{@link Containment#PID_NAMESPACE} (root): {@code setpriv --pdeathsig KILL -- unshare --pid
 * --fork --kill-child --mount-proc -- CMD…}. setpriv's parent-death signal survives its exec into
 * unshare, so unshare dies with the JVM; {@code --kill-child} kills the namespace's first process
 * when unshare dies; the kernel then kills every process of that PID namespace, including those
 * that called {@code setsid} or {@code nohup}. The child sees only its own processes in
 * {@code /proc}, never the server's.</li>
 * <li>{@link Containment#USER_PID_NAMESPACE} (not root, unprivileged user namespaces allowed): the
 * same inside a new user namespace ({@code unshare --user --map-root-user}).</li>
 * <li>{@link Containment#PROCESS_TREE} (no usable unshare): the child runs in its own session
 * ({@code setsid}) with a parent-death signal when setpriv exists; a kill signals its process
 * group and every descendant seen while it ran (sampled, because orphans are re-parented away).
 * A descendant that starts its own session and is orphaned between two samples can escape.</li>
 * </ul>
 * Linux delivers the parent-death signal when the <em>thread</em> that started the child ends,
 * so every child is started from one dedicated thread that lives as long as this launcher.
 *
 * <p><b>Environment policy.</b> A child gets exactly the map it is given and nothing of the
 * server's environment: never a {@code KARTA_*} variable, never a database URL (both refused
 * here). {@link #baseEnvironment()} is the minimal one for the image builder and ssh:
 * {@code PATH}, {@code HOME} (ssh finds {@code known_hosts}, its keys and config there) and
 * {@code LANG}. {@code SSH_AUTH_SOCK} is deliberately not passed: a tenant's binding must not use
 * the operator's ssh agent. Harnesses get their own configured map ({@code --harness-env}).
 */
public final class ProcessLauncher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProcessLauncher.class);
    /** The variables of {@link #baseEnvironment()}. */
    public static final List<String> BASE_VARIABLES = List.of("PATH", "HOME", "LANG");
    private static final List<String> SYSTEM_DIRS = List.of("/usr/bin", "/bin", "/usr/sbin", "/sbin");
    /** Config var names (the rules of {@code config.ConfigRules}, checked again at the last moment). */
    private static final Pattern TENANT_NAME = Pattern.compile("[A-Z_][A-Z0-9_]{0,63}");
    /**
     * Names a tenant's config must never set on a child: they would steer the programs that start
     * it outside the sandbox (the dynamic linker, shells) or Karta's own settings.
     */
    private static final Pattern UNSAFE_FOR_TENANTS = Pattern.compile("KARTA_.*|LD_.*|GCONV_PATH|GETCONF_DIR"
            + "|GLIBC_TUNABLES|HOSTALIASES|LOCALDOMAIN|LOCPATH|MALLOC_TRACE|NIS_PATH|NLSPATH|RESOLV_HOST_CONF"
            + "|RES_OPTIONS|TMPDIR|TZDIR|ENV|BASH_ENV|IFS|CDPATH|PS4|SHELLOPTS|BASHOPTS");
    private static final Pattern DATABASE_URL = Pattern.compile("(?i)^\\s*(jdbc:|postgres(ql)?://).*", Pattern.DOTALL);
    private static final long SAMPLE_MS = 200;
    private static final long PROBE_SECONDS = 10;
    /** How long the output reader may take to reach end-of-file once every writer is dead (a loaded host is slow). */
    private static final long READER_GRACE_SECONDS = 10;

    /** How the processes of one child are held together so that all of them can be killed. */
    public enum Containment {
        PID_NAMESPACE, USER_PID_NAMESPACE, PROCESS_TREE
    }

    /**
     * One process to start. Its whole environment is {@code config} overlaid by
     * {@code environment}: Karta's own variables win over a tenant's. {@code environment} is Karta's
     * (checked against the policy); {@code config} is the tenant's config vars, its own values
     * (a database URL of its own is fine), whose names were checked when they were set and are
     * checked again here against the names no tenant may set. Neither is ever shown: this
     * record's text lists names only.
     *
     * @throws IllegalArgumentException for an empty argv or an environment against the policy
     */
    public record Command(List<String> argv, Path workDir, Map<String, String> environment,
                          Map<String, String> config) {
        public Command {
            argv = List.copyOf(argv);
            if (argv.isEmpty() || argv.get(0).isBlank()) {
                throw new IllegalArgumentException("a command needs an executable");
            }
            environment = Map.copyOf(environment);
            checkEnvironment(environment);
            config = Map.copyOf(config);
            for (String name : config.keySet()) {
                if (!TENANT_NAME.matcher(name).matches() || UNSAFE_FOR_TENANTS.matcher(name).matches()) {
                    throw new IllegalArgumentException("a child process must not get the config var " + name);
                }
            }
        }

        public Command(List<String> argv, Path workDir, Map<String, String> environment) {
            this(argv, workDir, environment, Map.of());
        }

        /** The environment the child gets: {@code config}, then {@code environment} over it. */
        public Map<String, String> childEnvironment() {
            Map<String, String> all = new java.util.HashMap<>(config);
            all.putAll(environment);
            return all;
        }

        @Override
        public String toString() {
            return "Command[argv=" + argv + ", workDir=" + workDir + ", environment names=" + environment.keySet()
                    + ", config names=" + config.keySet() + "]";
        }
    }

    /** How a {@link #run} ended. */
    public record Outcome(int exitCode, boolean timedOut, boolean overflowed) {
    }

    private final Containment containment;
    private final List<String> prefix;
    private final String killExecutable;
    private final Map<String, String> baseEnvironment;
    private final ExecutorService spawner = Executors.newSingleThreadExecutor(Threads.daemon("process-spawner"));
    private final ScheduledExecutorService sampler =
            Executors.newSingleThreadScheduledExecutor(Threads.daemon("process-tree"));
    private final ExecutorService io = Executors.newCachedThreadPool(Threads.daemon("process-io"));

    /**
     * A launcher with the given containment, without probing whether it works here: for tests of
     * the fallback. {@code serverEnvironment} is filtered down to {@link #BASE_VARIABLES}.
     */
    ProcessLauncher(Containment containment, Map<String, String> serverEnvironment) {
        this.containment = containment;
        Map<String, String> base = new LinkedHashMap<>();
        for (String name : BASE_VARIABLES) {
            String value = serverEnvironment.get(name);
            if (value != null) {
                base.put(name, value);
            }
        }
        this.baseEnvironment = Map.copyOf(base);
        this.prefix = prefix(containment, base.get("PATH"));
        this.killExecutable = find("kill", base.get("PATH"));
    }

    /**
     * Probes the strongest containment this host allows (see the class comment), logs it, and
     * returns a launcher using it. {@code serverEnvironment} supplies the values of
     * {@link #BASE_VARIABLES}; nothing else of it is used.
     */
    public static ProcessLauncher detect(Map<String, String> serverEnvironment) {
        String path = serverEnvironment.get("PATH");
        for (Containment candidate : List.of(Containment.PID_NAMESPACE, Containment.USER_PID_NAMESPACE)) {
            List<String> prefix = prefix(candidate, path);
            String trueExecutable = find("true", path);
            if (prefix.isEmpty() || trueExecutable == null) {
                continue;
            }
            String failure = probe(prefix, trueExecutable);
            if (failure == null) {
                LOG.info("child processes run in their own {} ({}): killing one kills all it started, "
                        + "and none outlives the server", candidate == Containment.PID_NAMESPACE
                        ? "PID namespace" : "user and PID namespace", String.join(" ", prefix));
                return new ProcessLauncher(candidate, serverEnvironment);
            }
            LOG.debug("containment {} unavailable: {}", candidate, failure);
        }
        ProcessLauncher fallback = new ProcessLauncher(Containment.PROCESS_TREE, serverEnvironment);
        LOG.warn("unshare cannot create a PID namespace here; child processes run in their own session{} and "
                + "are killed with every descendant seen, but one that detaches itself between two samples "
                + "can outlive its turn", fallback.prefix.isEmpty() ? "" : " (" + String.join(" ", fallback.prefix) + ")");
        return fallback;
    }

    private static String probe(List<String> prefix, String executable) {
        List<String> argv = new ArrayList<>(prefix);
        argv.add(executable);
        try {
            ProcessBuilder builder = new ProcessBuilder(argv).redirectErrorStream(true);
            builder.environment().clear();
            Process process = builder.start();
            process.getOutputStream().close();
            byte[] out = process.getInputStream().readNBytes(4096);
            if (!process.waitFor(PROBE_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return "timed out";
            }
            return process.exitValue() == 0 ? null
                    : "exit " + process.exitValue() + ": " + new String(out, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    private static List<String> prefix(Containment containment, String path) {
        String setpriv = find("setpriv", path);
        List<String> prefix = new ArrayList<>();
        if (setpriv != null) {
            prefix.addAll(List.of(setpriv, "--pdeathsig", "KILL", "--"));
        }
        if (containment == Containment.PROCESS_TREE) {
            String setsid = find("setsid", path);
            if (setsid != null) {
                prefix.add(setsid);
            }
            return List.copyOf(prefix);
        }
        String unshare = find("unshare", path);
        if (unshare == null || setpriv == null) {
            return List.of();
        }
        prefix.add(unshare);
        if (containment == Containment.USER_PID_NAMESPACE) {
            prefix.addAll(List.of("--user", "--map-root-user"));
        }
        prefix.addAll(List.of("--pid", "--fork", "--kill-child", "--mount-proc", "--"));
        return List.copyOf(prefix);
    }

    public Containment containment() {
        return containment;
    }

    /** {@code PATH}, {@code HOME} and {@code LANG} of the server, when it has them; see the class comment. */
    public Map<String, String> baseEnvironment() {
        return baseEnvironment;
    }

    /**
     * Refuses an environment that would hand a child the server's settings or database:
     * {@code KARTA_*} names and database URL values.
     */
    static void checkEnvironment(Map<String, String> environment) {
        for (Map.Entry<String, String> e : environment.entrySet()) {
            if (e.getKey().toUpperCase(Locale.ROOT).startsWith("KARTA_")) {
                throw new IllegalArgumentException("a child process must not get " + e.getKey()
                        + ": KARTA_* settings stay with the server");
            }
            if (e.getValue() != null && DATABASE_URL.matcher(e.getValue()).matches()) {
                throw new IllegalArgumentException("a child process must not get a database URL (in " + e.getKey() + ")");
            }
        }
    }

    /**
     * Starts a child, its stdin, stdout and stderr pipes open (stderr merged into stdout with
     * {@code mergeStderr}). The caller must {@link Child#kill()} it when done with it.
     *
     * @throws IOException when the executable is missing or cannot be run (the message says so as
     *                     {@link ProcessBuilder#start()} does: {@code error=2, No such file or directory}),
     *                     or this launcher is closed
     */
    public Child start(Command command, boolean mergeStderr) throws IOException {
        List<String> argv = new ArrayList<>(prefix);
        argv.add(resolve(command).toString());
        argv.addAll(command.argv().subList(1, command.argv().size()));
        ProcessBuilder builder = new ProcessBuilder(argv).redirectErrorStream(mergeStderr);
        if (command.workDir() != null) {
            builder.directory(command.workDir().toFile());
        }
        builder.environment().clear();
        builder.environment().putAll(command.childEnvironment());
        Future<Process> started;
        try {
            started = spawner.submit(builder::start);
        } catch (RejectedExecutionException e) {
            throw new IOException("the server is stopping; no new processes are started");
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return new Child(started.get(), containment, sampler, killExecutable);
                } catch (InterruptedException e) {
                    // The process may be starting right now: wait for it, so it is never lost unkilled.
                    interrupted = true;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof IOException io) {
                        throw io;
                    }
                    throw new IOException("could not start " + command.argv().get(0) + ": " + e.getCause(), e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Runs a child to its end with stdin closed, handing each line of its output (stdout and
     * stderr merged) to {@code lines}. Past {@code timeLimit} or {@code outputLimit} bytes of
     * output it is killed and the outcome says which. The child and everything it started are
     * dead when this returns, also when it throws.
     */
    public Outcome run(Command command, Duration timeLimit, long outputLimit, Consumer<String> lines)
            throws IOException, InterruptedException {
        Child child = start(command, true);
        AtomicBoolean overflowed = new AtomicBoolean();
        try {
            child.process().getOutputStream().close();
            Future<?> reader = io.submit(() -> readLines(child, outputLimit, overflowed, lines));
            boolean exited = child.process().waitFor(timeLimit.toMillis(), TimeUnit.MILLISECONDS);
            if (exited) {
                // What it printed last may still be in the pipe, and a kill closes the pipe (Process.destroy
                // does): read to the end first. The rest of its tree dies with it (its PID namespace, or the
                // launcher's kill of the descendants seen), so the end comes soon.
                awaitReader(reader);
            }
            child.kill();
            awaitReader(reader); // everything that wrote is dead: the end comes soon
            if (!exited) {
                return new Outcome(-1, !overflowed.get(), overflowed.get());
            }
            return new Outcome(child.process().exitValue(), false, overflowed.get());
        } finally {
            child.kill();
        }
    }

    /**
     * Waits up to {@link #READER_GRACE_SECONDS} for {@code reader} to reach the end of the output;
     * past that it is given up (a process nothing killed still holds the pipe).
     */
    private static void awaitReader(Future<?> reader) throws InterruptedException {
        try {
            reader.get(READER_GRACE_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException | java.util.concurrent.TimeoutException | CancellationException e) {
            reader.cancel(true);
        }
    }

    private static void readLines(Child child, long limit, AtomicBoolean overflowed, Consumer<String> lines) {
        byte[] buffer = new byte[8192];
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        long total = 0;
        try (InputStream in = child.process().getInputStream()) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                total += n;
                if (total > limit) {
                    overflowed.set(true);
                    child.kill();
                    return;
                }
                int start = 0;
                for (int i = 0; i < n; i++) {
                    if (buffer[i] == '\n') {
                        line.write(buffer, start, i - start);
                        lines.accept(line.toString(StandardCharsets.UTF_8));
                        line.reset();
                        start = i + 1;
                    }
                }
                line.write(buffer, start, n - start);
            }
            if (line.size() > 0) {
                lines.accept(line.toString(StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            // The child was killed while writing; what was read is all there is.
        }
    }

    /**
     * The executable as an absolute path: a name without '/' is looked up in the command's PATH
     * (else the server's), as the shell would; a relative path is taken from the working directory.
     */
    Path resolve(Command command) throws IOException {
        String name = command.argv().get(0);
        Path found;
        if (name.contains("/")) {
            Path path = Path.of(name);
            found = path.isAbsolute() || command.workDir() == null ? path : command.workDir().resolve(path);
        } else {
            String path = command.environment().getOrDefault("PATH", baseEnvironment.get("PATH"));
            String hit = find(name, path);
            found = hit == null ? null : Path.of(hit);
        }
        if (found == null || !Files.isRegularFile(found) || !Files.isExecutable(found)) {
            boolean exists = found != null && Files.exists(found);
            throw new IOException("Cannot run program \"" + name + "\": error=" + (exists ? "13, Permission denied"
                    : "2, No such file or directory"));
        }
        return found.toAbsolutePath();
    }

    /** The first executable {@code name} in {@code path}, then in the usual system directories. */
    static String find(String name, String path) {
        List<String> dirs = new ArrayList<>();
        if (path != null) {
            for (String dir : path.split(":")) {
                if (!dir.isEmpty()) {
                    dirs.add(dir);
                }
            }
        }
        dirs.addAll(SYSTEM_DIRS);
        for (String dir : dirs) {
            Path candidate = Path.of(dir, name);
            if (candidate.isAbsolute() && Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return null;
    }

    /**
     * Stops starting processes. The spawning thread ends, so children still running get their
     * parent-death signal; callers kill their children first.
     */
    @Override
    public void close() {
        spawner.shutdown();
        sampler.shutdownNow();
        io.shutdownNow();
    }

    @Override
    public String toString() {
        return "ProcessLauncher[" + containment + ", base environment " + baseEnvironment.keySet() + "]";
    }
}
