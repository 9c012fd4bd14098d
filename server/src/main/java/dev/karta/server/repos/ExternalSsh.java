package dev.karta.server.repos;

import dev.karta.server.process.Child;
import dev.karta.server.process.ProcessLauncher;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.eclipse.jgit.errors.TransportException;
import org.eclipse.jgit.transport.CredentialsProvider;
import org.eclipse.jgit.transport.RemoteSession;
import org.eclipse.jgit.transport.SshSessionFactory;
import org.eclipse.jgit.transport.URIish;
import org.eclipse.jgit.util.FS;

/**
 * JGit's ssh transport through the system's ssh client, as git itself fetches: the configured
 * argv ({@code --ssh-command}, default {@code ssh}) runs with {@code -o BatchMode=yes} (never a
 * prompt), the URL's port and {@code user@host} after {@code --}, and JGit's
 * {@code git-upload-pack '…'} command; keys, {@code known_hosts} and {@code ~/.ssh/config} are
 * the server user's, which is why only URLs the operator allowed are fetched over ssh. The
 * connect timeout and keep-alive probes bound a silent host; each process is handed to
 * {@code started}, which kills it when the fetch's deadline passes. ssh runs through the
 * {@link ProcessLauncher} with its base environment only ({@code PATH}, {@code HOME} for
 * {@code ~/.ssh}, {@code LANG}): never the server's secrets, never the operator's ssh agent. JGit
 * core has no ssh client of its own, and one in the JVM would need its own key and host-key
 * configuration.
 */
final class ExternalSsh extends SshSessionFactory {
    /** Host and user names reach the ssh argv: letters, digits and {@code . _ -}, never a leading '-'. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]*");

    private final List<String> command;
    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final ProcessLauncher launcher;
    private final Consumer<Process> started;

    ExternalSsh(List<String> command, Duration connectTimeout, Duration readTimeout, ProcessLauncher launcher,
                Consumer<Process> started) {
        this.command = List.copyOf(command);
        this.connectTimeout = connectTimeout;
        this.readTimeout = readTimeout;
        this.launcher = launcher;
        this.started = started;
    }

    @Override
    public RemoteSession getSession(URIish uri, CredentialsProvider credentials, FS fs, int timeout)
            throws TransportException {
        String host = uri.getHost();
        String user = uri.getUser();
        if (host == null || !NAME.matcher(host).matches() || user != null && !NAME.matcher(user).matches()) {
            throw new TransportException(uri, "ssh host and user names may hold letters, digits, '.', '_' and '-'");
        }
        List<String> argv = new ArrayList<>(command);
        argv.addAll(List.of("-o", "BatchMode=yes", "-o", "ConnectTimeout=" + seconds(connectTimeout),
                "-o", "ServerAliveInterval=" + seconds(readTimeout), "-o", "ServerAliveCountMax=1"));
        if (uri.getPort() > 0) {
            argv.addAll(List.of("-p", Integer.toString(uri.getPort())));
        }
        argv.add("--");
        argv.add(user == null ? host : user + "@" + host);
        return new Session(argv, launcher, started);
    }

    private static long seconds(Duration d) {
        return Math.max(1, d.toSeconds());
    }

    @Override
    public String getType() {
        return "external ssh";
    }

    /** One connection's ssh processes; disconnecting kills any still running, with their children. */
    private static final class Session implements RemoteSession {
        private final List<String> argv;
        private final ProcessLauncher launcher;
        private final List<Child> processes = new CopyOnWriteArrayList<>();
        private final Consumer<Process> started;

        Session(List<String> argv, ProcessLauncher launcher, Consumer<Process> started) {
            this.argv = argv;
            this.launcher = launcher;
            this.started = started;
        }

        @Override
        public Process exec(String remoteCommand, int timeout) throws IOException {
            List<String> full = new ArrayList<>(argv);
            full.add(remoteCommand);
            Child child = launcher.start(new ProcessLauncher.Command(full, null, launcher.baseEnvironment()), false);
            processes.add(child);
            started.accept(child.process());
            return new Reaped(child.process());
        }

        @Override
        public void disconnect() {
            processes.forEach(Child::kill);
        }
    }

    /**
     * The ssh process as JGit sees it. When the remote end closes (or the fetch deadline kills
     * ssh), JGit reads end-of-stream and at once asks for the exit code; the pipe can close before
     * the process is reaped, and {@link Process#exitValue()} would then throw instead of answering.
     * This one waits up to two seconds for the exit first.
     */
    private static final class Reaped extends Process {
        private static final long EXIT_GRACE_MS = 2_000;
        private final Process process;

        Reaped(Process process) {
            this.process = process;
        }

        @Override
        public int exitValue() {
            try {
                process.waitFor(EXIT_GRACE_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return process.exitValue();
        }

        @Override
        public OutputStream getOutputStream() {
            return process.getOutputStream();
        }

        @Override
        public InputStream getInputStream() {
            return process.getInputStream();
        }

        @Override
        public InputStream getErrorStream() {
            return process.getErrorStream();
        }

        @Override
        public int waitFor() throws InterruptedException {
            return process.waitFor();
        }

        @Override
        public boolean waitFor(long timeout, TimeUnit unit) throws InterruptedException {
            return process.waitFor(timeout, unit);
        }

        @Override
        public void destroy() {
            process.destroy();
        }

        @Override
        public Process destroyForcibly() {
            return process.destroyForcibly();
        }

        @Override
        public boolean isAlive() {
            return process.isAlive();
        }

        @Override
        public ProcessHandle toHandle() {
            return process.toHandle();
        }
    }
}
