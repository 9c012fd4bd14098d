package dev.karta.server.repos;

import dev.karta.server.Config;
import dev.karta.server.http.ApiError;
import dev.karta.server.store.Threads;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.URL;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.eclipse.jgit.transport.http.HttpConnection;
import org.eclipse.jgit.transport.http.HttpConnectionFactory;
import org.eclipse.jgit.transport.http.JDKHttpConnection;

/**
 * Every outbound connection to a repository host, and the rules it obeys. Tenants choose these
 * URLs, so the server must not become their way into its own network:
 *
 * <ul>
 *   <li>at bind time, {@link #checkBindable} refuses {@code git://}, {@code file://}, ssh URLs and
 *       HTTP hosts that are, or resolve to, a loopback, private, link-local, CGNAT, multicast or
 *       unspecified address, unless the URL starts with an operator's {@code --allow-repo-url}
 *       prefix;</li>
 *   <li>at connect time the check is made again, on every redirect, on the address actually
 *       connected to: each HTTP connection goes through a one-shot SOCKS5 relay on loopback that
 *       takes the address the client names (or resolves the name itself), checks it, and connects
 *       to exactly that address. A DNS answer that changes between check and connect (DNS
 *       rebinding) cannot slip through, and TLS still verifies the real host name end to end;</li>
 *   <li>each fetch ({@link Fetch}) has connect and read timeouts and a total deadline, enforced by
 *       a watchdog that closes its sockets and kills its ssh processes (interrupting a thread does
 *       not unblock a socket read).</li>
 * </ul>
 *
 * Failures to reach a tenant's host are all reported with one message, so that a fetch cannot
 * tell an open port from a closed or filtered one. The GitHub API URL is operator configuration
 * and trusted; the hosts it redirects to are checked like any other. Event webhooks out use the
 * same relay and address rules for their deliveries.
 */
public final class Egress {
    /**
     * Numeric host forms other than a plain dotted quad ({@code 2130706433}, {@code 0x7f.1},
     * {@code 127.1}, {@code 0177.0.0.1}): hex digits and dots whose last label is a number (decimal,
     * octal or {@code 0x} hex). Names such as {@code cafe.de} end in a letter label and are names.
     */
    private static final Pattern NUMERIC_HOST = Pattern.compile("(?i)([0-9a-fx]*\\.)*(\\d+|0x[0-9a-f]*)\\.?");
    private static final Pattern DOTTED_QUAD = Pattern.compile("(\\d{1,3}\\.){3}\\d{1,3}");
    private static final int SOCKS_VERSION = 5;
    private static final byte[] SOCKS_REFUSED = {5, 2, 0, 1, 0, 0, 0, 0, 0, 0};
    private static final byte[] SOCKS_FAILED = {5, 1, 0, 1, 0, 0, 0, 0, 0, 0};
    private static final byte[] SOCKS_CONNECTED = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};

    private final List<String> allowed;
    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final Duration fetchDeadline;
    private final ExecutorService relays = Executors.newCachedThreadPool(Threads.daemon("karta-egress-relay"));
    private final ScheduledThreadPoolExecutor watchdog = new ScheduledThreadPoolExecutor(1,
            Threads.daemon("karta-egress-watchdog"));

    Egress(Config.Repos settings) {
        this(settings.allowRepoUrls(), settings.connectTimeout(), settings.readTimeout(), settings.fetchDeadline());
    }

    /** Rules for outbound connections: {@code allowed} URL prefixes skip the address check. */
    public Egress(List<String> allowed, Duration connectTimeout, Duration readTimeout, Duration fetchDeadline) {
        watchdog.setKeepAliveTime(10, TimeUnit.SECONDS);
        watchdog.allowCoreThreadTimeOut(true);
        watchdog.setRemoveOnCancelPolicy(true);
        this.allowed = List.copyOf(allowed);
        this.connectTimeout = connectTimeout;
        this.readTimeout = readTimeout;
        this.fetchDeadline = fetchDeadline;
    }

    Duration connectTimeout() {
        return connectTimeout;
    }

    Duration readTimeout() {
        return readTimeout;
    }

    Duration fetchDeadline() {
        return fetchDeadline;
    }

    /** Whether the operator allowed {@code url} with {@code --allow-repo-url} (a plain prefix match). */
    boolean allowed(String url) {
        for (String prefix : allowed) {
            if (url.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Refuses, as a 422 {@code repo_url_refused}, a binding the server may not fetch for a tenant.
     * GitHub bindings go through the (trusted) API and are always fine. A host name that does not
     * resolve now is accepted: it is checked again when it is fetched.
     */
    void checkBindable(RepoUrl url) {
        if (url.kind() == RepoUrl.Kind.GITHUB || allowed(url.fetch())) {
            return;
        }
        String fetch = url.fetch();
        if (!fetch.contains("://")) {
            throw refused("ssh URLs (user@host:path) would use the server's own ssh keys; use an https URL with a "
                    + "token, or ask the operator to allow it with --allow-repo-url");
        }
        URI uri = URI.create(fetch);
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        switch (scheme) {
            case "http", "https" -> { }
            case "ssh" -> throw refused("ssh:// URLs would use the server's own ssh keys; use an https URL with a "
                    + "token, or ask the operator to allow it with --allow-repo-url");
            case "file" -> throw refused("file:// URLs read the server's own disk; the operator can allow a folder "
                    + "with --allow-repo-url file:///srv/git/");
            default -> throw refused(scheme + ":// URLs are not fetched; use an https URL");
        }
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (NUMERIC_HOST.matcher(host).matches() && !DOTTED_QUAD.matcher(host).matches() && !host.contains(":")) {
            throw refused("host '" + host + "' is a numeric address form other than a.b.c.d");
        }
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            return;
        }
        for (InetAddress address : addresses) {
            String reason = forbidden(address);
            if (reason != null) {
                throw refused("host '" + host + "' is " + reason);
            }
        }
    }

    /**
     * Why a tenant may not name {@code host} (a name or an address, IPv6 with or without brackets),
     * or null when it may: a numeric form other than a.b.c.d, or a name resolving now to any
     * forbidden address. A name that does not resolve now is allowed: connections check again.
     */
    public static String refusedHost(String host) {
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (NUMERIC_HOST.matcher(host).matches() && !DOTTED_QUAD.matcher(host).matches() && !host.contains(":")) {
            return "host '" + host + "' is a numeric address form other than a.b.c.d";
        }
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            return null;
        }
        for (InetAddress address : addresses) {
            String reason = forbidden(address);
            if (reason != null) {
                return "host '" + host + "' is " + reason;
            }
        }
        return null;
    }

    private static ApiError refused(String reason) {
        return ApiError.unprocessable("repo_url_refused", "this repository URL is not allowed: " + reason);
    }

    /**
     * Why the server may not connect to {@code address} for a tenant, or null when it may: only
     * public unicast addresses are allowed (IPv4-mapped, -compatible and NAT64 IPv6 addresses are
     * judged by the IPv4 address they carry).
     */
    public static String forbidden(InetAddress address) {
        if (address instanceof Inet6Address v6) {
            byte[] b = v6.getAddress();
            boolean embedsV4 = v6.isIPv4CompatibleAddress() && !(b[12] == 0 && b[13] == 0 && b[14] == 0)
                    || isNat64(b);
            if (embedsV4) {
                try {
                    return forbidden(InetAddress.getByAddress(new byte[]{b[12], b[13], b[14], b[15]}));
                } catch (UnknownHostException e) {
                    return "not a valid address";
                }
            }
            if ((b[0] & 0xfe) == 0xfc) {
                return "a private (unique local) address";
            }
            if (b[0] == 0x20 && b[1] == 0x02) {
                // 6to4 (2002::/16) carries an IPv4 address in bytes 2 to 5.
                try {
                    return forbidden(InetAddress.getByAddress(new byte[]{b[2], b[3], b[4], b[5]}));
                } catch (UnknownHostException e) {
                    return "not a valid address";
                }
            }
            if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {
                return "a Teredo tunnel address";
            }
        }
        if (address.isAnyLocalAddress()) {
            return "the unspecified address";
        }
        if (address.isLoopbackAddress()) {
            return "a loopback address";
        }
        if (address.isLinkLocalAddress()) {
            return "a link-local address";
        }
        if (address.isSiteLocalAddress()) {
            return "a private address";
        }
        if (address.isMulticastAddress()) {
            return "a multicast address";
        }
        if (address instanceof Inet4Address) {
            byte[] b = address.getAddress();
            int first = b[0] & 0xff;
            int second = b[1] & 0xff;
            if (first == 0) {
                return "the unspecified address";
            }
            if (first == 100 && second >= 64 && second < 128) {
                return "a shared (CGNAT) address";
            }
            if (first >= 240) {
                return "a reserved address";
            }
        }
        if (address instanceof Inet6Address && address.getAddress()[0] == 0) {
            return "a reserved address";
        }
        return null;
    }

    private static boolean isNat64(byte[] b) {
        // 64:ff9b::/96 carries an IPv4 address in its last four bytes.
        if (b[0] != 0 || b[1] != 0x64 || (b[2] & 0xff) != 0xff || (b[3] & 0xff) != 0x9b) {
            return false;
        }
        for (int i = 4; i < 12; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /** Starts a fetch: its connections and processes are closed when {@code deadline} passes, or on close. */
    public Fetch begin(Duration deadline) {
        return new Fetch(deadline);
    }

    Fetch begin() {
        return begin(fetchDeadline);
    }

    /**
     * One fetch: everything it opens is tracked, and closed when it ends or when its deadline
     * passes, whichever is first. {@link #timedOut()} says which.
     */
    public final class Fetch implements AutoCloseable {
        private final Duration deadline;
        private final Set<Object> open = ConcurrentHashMap.newKeySet();
        private final ScheduledFuture<?> expiry;
        private volatile boolean timedOut;
        private volatile boolean closed;

        private Fetch(Duration deadline) {
            this.deadline = deadline;
            this.expiry = watchdog.schedule(this::expire, deadline.toMillis(), TimeUnit.MILLISECONDS);
        }

        Duration deadline() {
            return deadline;
        }

        public boolean timedOut() {
            return timedOut;
        }

        /**
         * An HTTP connection to {@code uri} through a checking relay; {@code trusted} skips the
         * address check (operator configuration, or an allowed prefix). Timeouts are set.
         */
        public HttpURLConnection open(URI uri, boolean trusted) throws IOException {
            HttpURLConnection connection = (HttpURLConnection) uri.toURL().openConnection(relay(trusted));
            connection.setConnectTimeout(clientConnectMillis());
            connection.setReadTimeout(millis(readTimeout));
            return connection;
        }

        /** JGit's HTTP connections for this fetch, each through a checking relay unless its URL is allowed. */
        HttpConnectionFactory jgitConnections() {
            return new HttpConnectionFactory() {
                @Override
                public HttpConnection create(URL url) throws IOException {
                    return create(url, null);
                }

                @Override
                public HttpConnection create(URL url, Proxy ignored) throws IOException {
                    return new Relayed(url, relay(allowed(url.toString())));
                }
            };
        }

        /** Kills {@code process} when the deadline passes or the fetch ends. */
        void track(Process process) {
            open.add(process);
            if (closed) {
                process.destroyForcibly();
            }
        }

        private void expire() {
            timedOut = true;
            closeAll();
        }

        private void closeAll() {
            for (Object o : open) {
                if (o instanceof Process process) {
                    process.descendants().forEach(ProcessHandle::destroyForcibly);
                    process.destroyForcibly();
                } else if (o instanceof Socket socket) {
                    try {
                        // A reset, not an orderly end: the reader sees an error, never a short but "complete" body.
                        socket.setSoLinger(true, 0);
                    } catch (IOException e) {
                        // closed already
                    }
                    quietly(socket);
                } else if (o instanceof Closeable closeable) {
                    quietly(closeable);
                }
            }
            open.clear();
        }

        @Override
        public void close() {
            closed = true;
            expiry.cancel(false);
            closeAll();
        }

        /** A one-shot SOCKS5 relay on loopback for one connection. */
        private Proxy relay(boolean trusted) throws IOException {
            if (closed || timedOut) {
                throw new IOException("the fetch has ended");
            }
            ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
            open.add(listener);
            relays.execute(() -> serve(listener, trusted));
            return new Proxy(Proxy.Type.SOCKS, new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    listener.getLocalPort()));
        }

        private void serve(ServerSocket listener, boolean trusted) {
            Socket client = null;
            Socket upstream = null;
            try {
                listener.setSoTimeout(clientConnectMillis());
                client = listener.accept();
                open.add(client);
                quietly(listener);
                open.remove(listener);
                client.setSoTimeout(clientConnectMillis());
                DataInputStream in = new DataInputStream(client.getInputStream());
                OutputStream out = client.getOutputStream();
                if (in.readUnsignedByte() != SOCKS_VERSION) {
                    return;
                }
                in.readNBytes(in.readUnsignedByte());
                out.write(new byte[]{SOCKS_VERSION, 0});
                byte[] head = in.readNBytes(4);
                if (head.length < 4 || head[1] != 1) {
                    out.write(SOCKS_FAILED);
                    return;
                }
                InetAddress[] candidates = switch (head[3]) {
                    case 1 -> new InetAddress[]{InetAddress.getByAddress(in.readNBytes(4))};
                    case 4 -> new InetAddress[]{InetAddress.getByAddress(in.readNBytes(16))};
                    case 3 -> InetAddress.getAllByName(new String(in.readNBytes(in.readUnsignedByte()),
                            java.nio.charset.StandardCharsets.US_ASCII));
                    default -> throw new IOException("unknown SOCKS address type");
                };
                int port = in.readUnsignedShort();
                InetAddress target = candidates[0];
                if (!trusted) {
                    for (InetAddress candidate : candidates) {
                        if (forbidden(candidate) != null) {
                            out.write(SOCKS_REFUSED);
                            return;
                        }
                    }
                }
                upstream = new Socket();
                open.add(upstream);
                // The address just checked is the one connected to: no second look-up.
                upstream.connect(new InetSocketAddress(target, port), millis(connectTimeout));
                out.write(SOCKS_CONNECTED);
                out.flush();
                client.setSoTimeout(0);
                Socket from = upstream;
                Socket to = client;
                relays.execute(() -> pump(from, to));
                pump(client, upstream);
                client = null;
                upstream = null;
            } catch (IOException | RuntimeException e) {
                if (client != null) {
                    try {
                        client.getOutputStream().write(SOCKS_FAILED);
                    } catch (IOException ignored) {
                        // the client is gone
                    }
                }
            } finally {
                quietly(listener);
                if (client != null) {
                    quietly(client);
                }
                if (upstream != null) {
                    quietly(upstream);
                }
            }
        }

        private void pump(Socket from, Socket to) {
            byte[] buffer = new byte[16 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // One side ended: end the other too.
            } finally {
                quietly(from);
                quietly(to);
                open.remove(from);
                open.remove(to);
            }
        }
    }

    /** JGit's connection class, connecting through a relay, with our timeouts whatever JGit asks for. */
    private final class Relayed extends JDKHttpConnection {
        Relayed(URL url, Proxy relay) throws IOException {
            super(url, relay);
            super.setConnectTimeout(clientConnectMillis());
            super.setReadTimeout(millis(readTimeout));
        }

        @Override
        public void setConnectTimeout(int ignored) {
            super.setConnectTimeout(clientConnectMillis());
        }

        @Override
        public void setReadTimeout(int ignored) {
            super.setReadTimeout(millis(readTimeout));
        }
    }

    /** The client's connect includes the relay's own connect upstream, so it gets a little longer. */
    private int clientConnectMillis() {
        return millis(connectTimeout) + 1000;
    }

    private static int millis(Duration d) {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, d.toMillis()));
    }

    private static void quietly(Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException e) {
            // nothing more to do
        }
    }
}
