package dev.karta.cli;

import dev.karta.api.ApiKeyList;
import dev.karta.api.AuditEventList;
import dev.karta.api.BoundRepo;
import dev.karta.api.CiTrust;
import dev.karta.api.CiTrustList;
import dev.karta.api.ConfigPatch;
import dev.karta.api.ConfigUpdate;
import dev.karta.api.CreateApiKey;
import dev.karta.api.CreateCiTrust;
import dev.karta.api.CreateDeploy;
import dev.karta.api.CreatePreview;
import dev.karta.api.CreateProject;
import dev.karta.api.CreateWebhookEndpoint;
import dev.karta.api.CreatedApiKey;
import dev.karta.api.Deploy;
import dev.karta.api.DeployAccepted;
import dev.karta.api.ErrorBody;
import dev.karta.api.LedgerVerification;
import dev.karta.api.LogEntries;
import dev.karta.api.OidcKey;
import dev.karta.api.OidcTokenRequest;
import dev.karta.api.Preview;
import dev.karta.api.PreviewList;
import dev.karta.api.PreviewPromotion;
import dev.karta.api.Project;
import dev.karta.api.ProjectConfig;
import dev.karta.api.ProjectList;
import dev.karta.api.ReleaseDiff;
import dev.karta.api.ReleaseList;
import dev.karta.api.RollbackPreview;
import dev.karta.api.RollbackRequest;
import dev.karta.api.RollbackResult;
import dev.karta.api.Session;
import dev.karta.api.SessionList;
import dev.karta.api.UpdateWebhookEndpoint;
import dev.karta.api.Usage;
import dev.karta.api.WebhookDelivery;
import dev.karta.api.WebhookDeliveryList;
import dev.karta.api.WebhookEndpoint;
import dev.karta.api.WebhookEndpointList;
import dev.karta.api.WebhookEndpointSecret;
import dev.karta.api.WhoAmI;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongConsumer;
import javax.net.ssl.SSLParameters;

/**
 * All HTTP between the CLI and a Karta server: bearer auth, the
 * {@code karta-cli/VERSION} user agent, JSON through {@link WireRecords}. Every answer
 * that is not a success becomes a {@link CliError} carrying the server's message; a server
 * that cannot be reached becomes {@link CliError.Kind#UNAVAILABLE}.
 */
final class ApiClient {
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);
    private static final int UPLOAD_ATTEMPTS = 3;

    /**
     * A decoded answer together with the server's JSON as sent, for {@code --json}: that tree is
     * parsed only when asked for, since most runs print a table.
     */
    static final class Reply<T> {
        private final T value;
        private final byte[] raw;

        private Reply(T value, byte[] raw) {
            this.value = value;
            this.raw = raw;
        }

        T value() {
            return value;
        }

        /** The answer as the server sent it, as a {@link JsonText} tree; null when it had no body. */
        Object body() {
            return raw == null ? null : JsonText.parse(raw);
        }
    }

    private final String server;
    private final String apiKey;
    private HttpClient http;
    private final String userAgent;

    ApiClient(String server, String apiKey, String version) {
        this.server = server;
        this.apiKey = apiKey;
        this.userAgent = "karta-cli/" + version;
    }

    static {
        // HttpURLConnection would otherwise send a POST again when the connection drops before
        // the answer: this client decides itself what is safe to repeat (Idempotency-Key).
        System.setProperty("sun.net.http.retryPost", "false");
    }

    /** The HTTP client, for streams, uploads and PATCH; built on first use (see {@link #call}). */
    private HttpClient http() {
        if (http != null) {
            return http;
        }
        // HTTP/1.1 on purpose: the server speaks it, and an h2c upgrade attempt only costs time.
        HttpClient.Builder builder = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER);
        if (server.startsWith("http://")) {
            builder.sslContext(new PlainHttpOnly()).sslParameters(new SSLParameters());
        }
        http = builder.build();
        return http;
    }

    String server() {
        return server;
    }

    Reply<WhoAmI> whoami() {
        return call("GET", "/whoami", null, WhoAmI.class);
    }

    Reply<ProjectList> projects() {
        return call("GET", "/agent_projects", null, ProjectList.class);
    }

    Reply<Project> project(String name) {
        return call("GET", "/agent_projects/" + segment(name), null, Project.class);
    }

    Reply<Project> createProject(String name) {
        return call("POST", "/agent_projects", new CreateProject(name), Project.class);
    }

    void deleteProject(String name) {
        call("DELETE", "/agent_projects/" + segment(name), null, Void.class);
    }

    Reply<ReleaseList> releases(String project) {
        return call("GET", "/agent_projects/" + segment(project) + "/releases", null, ReleaseList.class);
    }

    Reply<ApiKeyList> keys() {
        return call("GET", "/api_keys", null, ApiKeyList.class);
    }

    Reply<CreatedApiKey> createKey(String name, String scope) {
        return createKey(name, scope, null, null);
    }

    /** A new key; {@code expiresAt} and {@code project} may be null (never expires; the whole org). */
    Reply<CreatedApiKey> createKey(String name, String scope, Instant expiresAt, String project) {
        return call("POST", "/api_keys", new CreateApiKey(name, List.of(scope),
                expiresAt == null ? null : expiresAt.toString(), project), CreatedApiKey.class);
    }

    void revokeKey(String id) {
        call("DELETE", "/api_keys/" + segment(id), null, Void.class);
    }

    Reply<CiTrustList> ciTrusts(String project) {
        return call("GET", "/agent_projects/" + segment(project) + "/ci_trusts", null, CiTrustList.class);
    }

    Reply<CiTrust> trustCi(String project, CreateCiTrust trust) {
        return call("POST", "/agent_projects/" + segment(project) + "/ci_trusts", trust, CiTrust.class);
    }

    void untrustCi(String project, String id) {
        call("DELETE", "/agent_projects/" + segment(project) + "/ci_trusts/" + segment(id), null, Void.class);
    }

    /** Exchanges a GitHub Actions OIDC token for a short-lived key of {@code project}; needs no key. */
    Reply<OidcKey> exchangeGithubToken(String token, String project) {
        return call("POST", "/oidc/github/token", new OidcTokenRequest(token, project), OidcKey.class);
    }

    Reply<WebhookEndpointList> webhookEndpoints() {
        return call("GET", "/webhook_endpoints", null, WebhookEndpointList.class);
    }

    Reply<WebhookEndpointSecret> createWebhookEndpoint(String url, List<String> events, String description) {
        return call("POST", "/webhook_endpoints", new CreateWebhookEndpoint(url, events, description),
                WebhookEndpointSecret.class);
    }

    void deleteWebhookEndpoint(String id) {
        call("DELETE", "/webhook_endpoints/" + segment(id), null, Void.class);
    }

    Reply<WebhookDelivery> testWebhookEndpoint(String id) {
        return call("POST", "/webhook_endpoints/" + segment(id) + "/test", null, WebhookDelivery.class);
    }

    Reply<WebhookEndpoint> setWebhookEndpointEnabled(String id, boolean enabled) {
        return call("PATCH", "/webhook_endpoints/" + segment(id), new UpdateWebhookEndpoint(null, null, enabled, null),
                WebhookEndpoint.class);
    }

    Reply<WebhookEndpointSecret> rotateWebhookSecret(String id) {
        return call("POST", "/webhook_endpoints/" + segment(id) + "/rotate-secret", null, WebhookEndpointSecret.class);
    }

    Reply<WebhookDelivery> retryWebhookDelivery(String id, long delivery) {
        return call("POST", "/webhook_endpoints/" + segment(id) + "/deliveries/" + delivery + "/retry", null,
                WebhookDelivery.class);
    }

    Reply<WebhookDeliveryList> webhookDeliveries(String id, int limit) {
        return call("GET", "/webhook_endpoints/" + segment(id) + "/deliveries?limit=" + limit, null,
                WebhookDeliveryList.class);
    }

    Reply<AuditEventList> auditEvents(int limit) {
        return call("GET", "/audit_events?limit=" + limit, null, AuditEventList.class);
    }

    Reply<LedgerVerification> verifyLedger() {
        return call("GET", "/audit_events/verify", null, LedgerVerification.class);
    }

    /**
     * Copies the org's ledger export (JSON Lines, docs/audit.md) to {@code out} as it arrives;
     * {@code since} (an RFC 3339 time or an age) may be null. No overall timeout: an export of a
     * long history takes as long as it takes. Returns the bytes copied.
     */
    long exportLedger(String since, OutputStream out) {
        URI uri = uri("/audit_events/export" + queryString(since == null ? Map.of() : Map.of("since", since)));
        HttpRequest request = base(uri).header("Accept", "application/x-ndjson").GET().build();
        try {
            HttpResponse<InputStream> response = http().send(request, HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = response.body()) {
                if (response.statusCode() != 200) {
                    throw CliError.ofResponse(response.statusCode(), errorBody(in.readNBytes(64 * 1024)), "GET",
                            uri.toString());
                }
                return in.transferTo(out);
            }
        } catch (IOException e) {
            throw unreachable(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CliError.failed("interrupted");
        }
    }

    Reply<RollbackResult> rollback(String project, String to, boolean pin) {
        return call("POST", "/agent_projects/" + segment(project) + "/rollback", new RollbackRequest(to, pin ? null : false, null),
                RollbackResult.class);
    }

    Reply<RollbackPreview> rollbackPreview(String project, String to, boolean pin) {
        return call("POST", "/agent_projects/" + segment(project) + "/rollback", new RollbackRequest(to, pin ? null : false, true),
                RollbackPreview.class);
    }

    Reply<RollbackResult> activate(String project, String version) {
        return call("POST", "/agent_projects/" + segment(project) + "/releases/" + segment(version) + "/activate",
                null, RollbackResult.class);
    }

    Reply<RollbackResult> unpin(String project) {
        return call("DELETE", "/agent_projects/" + segment(project) + "/pin", null, RollbackResult.class);
    }

    Reply<ReleaseDiff> releaseDiff(String project, String from, String to) {
        return call("GET", "/agent_projects/" + segment(project) + "/releases/" + segment(from) + "/diff/"
                + segment(to), null, ReleaseDiff.class);
    }

    /** A project's config vars: names only, or with values when {@code reveal} (admin keys). */
    Reply<ProjectConfig> config(String project, boolean reveal) {
        return call("GET", "/agent_projects/" + segment(project) + "/config" + (reveal ? "?reveal=true" : ""), null,
                ProjectConfig.class);
    }

    Reply<ConfigUpdate> changeConfig(String project, ConfigPatch patch) {
        return call("PATCH", "/agent_projects/" + segment(project) + "/config", patch, ConfigUpdate.class);
    }

    Reply<DeployAccepted> deploy(String project, String commitSha) {
        return call("POST", "/agent_projects/" + segment(project) + "/deploys", new CreateDeploy(commitSha),
                DeployAccepted.class);
    }

    Reply<PreviewList> previews(String project) {
        return call("GET", "/agent_projects/" + segment(project) + "/previews", null, PreviewList.class);
    }

    Reply<Preview> createPreview(String project, String name, String commitSha) {
        return call("POST", "/agent_projects/" + segment(project) + "/previews", new CreatePreview(name, commitSha),
                Preview.class);
    }

    Reply<Preview> preview(String project, String name) {
        return call("GET", "/agent_projects/" + segment(project) + "/previews/" + segment(name), null, Preview.class);
    }

    Reply<Void> deletePreview(String project, String name) {
        return call("DELETE", "/agent_projects/" + segment(project) + "/previews/" + segment(name), null, Void.class);
    }

    Reply<PreviewPromotion> promote(String project, String name) {
        return call("POST", "/agent_projects/" + segment(project) + "/previews/" + segment(name) + "/promote", null,
                PreviewPromotion.class);
    }

    Reply<Deploy> deployStatus(String project, String deployId) {
        return call("GET", "/agent_projects/" + segment(project) + "/deploys/" + segment(deployId), null, Deploy.class);
    }

    /**
     * Sessions of a project (of its preview {@code preview} alone when not null), newest first;
     * {@code status} and {@code limit} are left to the server when null.
     */
    Reply<SessionList> sessions(String project, String preview, String status, Integer limit) {
        StringBuilder query = new StringBuilder();
        if (status != null) {
            query.append("&status=").append(URLEncoder.encode(status, StandardCharsets.UTF_8));
        }
        if (limit != null) {
            query.append("&limit=").append(limit);
        }
        return call("GET", "/v1/projects/" + segment(project) + (preview == null ? "" : "/previews/" + segment(preview))
                + "/sessions" + (query.length() == 0 ? "" : "?" + query.substring(1)), null, SessionList.class);
    }

    Reply<Session> session(String project, String id) {
        return call("GET", "/v1/projects/" + segment(project) + "/sessions/" + segment(id), null, Session.class);
    }

    void endSession(String project, String id) {
        call("DELETE", "/v1/projects/" + segment(project) + "/sessions/" + segment(id), null, Void.class);
    }

    /** A project's usage in {@code period} (YYYY-MM), or this month when it is null. */
    Reply<Usage> usage(String project, String period) {
        String query = period == null ? "" : "?period=" + URLEncoder.encode(period, StandardCharsets.UTF_8);
        return call("GET", "/agent_projects/" + segment(project) + "/usage" + query, null, Usage.class);
    }

    /**
     * Uploads a source archive as a new release (202 → the queued deploy). The file is streamed
     * from disk, never held in memory. A dropped connection is retried with the same
     * {@code Idempotency-Key}, so the server does the work once however often the bytes arrive.
     */
    Reply<Deploy> uploadRelease(String project, Path archive, String commitSha, String idempotencyKey,
                                LongConsumer bytesSent) {
        long size;
        try {
            size = Files.size(archive);
        } catch (IOException e) {
            throw CliError.failed("cannot read " + archive + ": " + e.getMessage());
        }
        URI uri = uri("/agent_projects/" + segment(project) + "/releases");
        HttpRequest.Builder request = base(uri)
                .header("Content-Type", "application/gzip")
                .header("Accept", "application/json")
                .header("Idempotency-Key", idempotencyKey)
                .POST(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(
                        () -> counting(archive, bytesSent)), size));
        if (commitSha != null) {
            request.header("X-Karta-Commit", commitSha);
        }
        for (int attempt = 1; ; attempt++) {
            try {
                HttpResponse<byte[]> response = http().send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
                return decode("POST", uri, response, Deploy.class);
            } catch (IOException e) {
                if (attempt >= UPLOAD_ATTEMPTS || e instanceof ConnectException || e instanceof HttpTimeoutException) {
                    throw unreachable(e);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw CliError.failed("interrupted");
            }
        }
    }

    /**
     * Opens the build log of a deploy as a server-sent event stream, resuming after
     * {@code lastEventId} when it is not null. The caller closes the stream.
     */
    InputStream openDeployLog(String project, String deployId, Long lastEventId) {
        return openEvents(uri("/agent_projects/" + segment(project) + "/deploys/" + segment(deployId) + "/logs"),
                lastEventId);
    }

    /** A window of a project's log (docs/logs.md): {@code query} holds since, until, limit, source. */
    Reply<LogEntries> logs(String project, Map<String, String> query) {
        return call("GET", "/agent_projects/" + segment(project) + "/logs" + queryString(query), null,
                LogEntries.class);
    }

    /**
     * Opens a project's live log ({@code tail=true}, SSE) with the same {@code query} as
     * {@link #logs}, resuming after {@code lastEventId} when it is not null. The caller closes it.
     */
    InputStream openLogTail(String project, Map<String, String> query, Long lastEventId) {
        Map<String, String> tail = new LinkedHashMap<>(query);
        tail.put("tail", "true");
        return openEvents(uri("/agent_projects/" + segment(project) + "/logs" + queryString(tail)), lastEventId);
    }

    /** {@code token} (or null) is the binding's own credential; the server stores it encrypted and never shows it. */
    Reply<BoundRepo> bindRepo(String project, String url, String branch, String token) {
        Map<String, String> body = new LinkedHashMap<>();
        body.put("url", url);
        body.put("branch", branch);
        if (token != null) {
            body.put("token", token);
        }
        return call("PUT", "/agent_projects/" + segment(project) + "/repo", body, BoundRepo.class);
    }

    Reply<BoundRepo> repo(String project) {
        return call("GET", "/agent_projects/" + segment(project) + "/repo", null, BoundRepo.class);
    }

    void unbindRepo(String project) {
        call("DELETE", "/agent_projects/" + segment(project) + "/repo", null, Void.class);
    }

    Reply<BoundRepo> rotateRepoSecret(String project) {
        return call("POST", "/agent_projects/" + segment(project) + "/repo/rotate-secret", null, BoundRepo.class);
    }

    /** A GET answered with a server-sent event stream; any other answer than 200 is a {@link CliError}. */
    private InputStream openEvents(URI uri, Long lastEventId) {
        HttpRequest.Builder request = base(uri).header("Accept", "text/event-stream").GET();
        if (lastEventId != null) {
            request.header("Last-Event-ID", Long.toString(lastEventId));
        }
        try {
            HttpResponse<InputStream> response = http().send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            if (response.statusCode() == 200) {
                return response.body();
            }
            byte[] body;
            try (InputStream in = response.body()) {
                body = in.readNBytes(64 * 1024);
            }
            throw CliError.ofResponse(response.statusCode(), errorBody(body), "GET", uri.toString());
        } catch (IOException e) {
            throw unreachable(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CliError.failed("interrupted");
        }
    }

    /**
     * One JSON request and its answer. GET, POST, PUT and DELETE go through {@link
     * HttpURLConnection}: it lives in java.base and answers without the HTTP client's selector
     * thread and asynchronous hand-offs, which made up much of a one-line command's time (issue
     * 16). PATCH, which it cannot send, goes through the HTTP client.
     */
    private <T> Reply<T> call(String method, String path, Object body, Class<T> type) {
        if (!method.equals("PATCH")) {
            return callPlain(method, path, body, type);
        }
        URI uri = uri(path);
        HttpRequest.Builder request = base(uri).timeout(REQUEST_TIMEOUT).header("Accept", "application/json");
        if (body == null) {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            request.header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofByteArray(encode(body)));
        }
        try {
            return decode(method, uri, http().send(request.build(), HttpResponse.BodyHandlers.ofByteArray()), type);
        } catch (IOException e) {
            throw unreachable(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CliError.failed("interrupted");
        }
    }

    private <T> Reply<T> callPlain(String method, String path, Object body, Class<T> type) {
        URI uri = uri(path);
        byte[] bytes = body == null ? null : encode(body);
        try {
            HttpURLConnection connection = (HttpURLConnection) uri.toURL().openConnection(Proxy.NO_PROXY);
            connection.setInstanceFollowRedirects(false);
            connection.setUseCaches(false);
            connection.setConnectTimeout((int) CONNECT_TIMEOUT.toMillis());
            connection.setReadTimeout((int) REQUEST_TIMEOUT.toMillis());
            connection.setRequestMethod(method);
            connection.setRequestProperty("User-Agent", userAgent);
            if (apiKey != null) {
                connection.setRequestProperty("Authorization", "Bearer " + apiKey);
            }
            connection.setRequestProperty("Accept", "application/json");
            if (bytes != null || method.equals("POST") || method.equals("PUT")) {
                byte[] payload = bytes == null ? new byte[0] : bytes;
                if (bytes != null) {
                    connection.setRequestProperty("Content-Type", "application/json");
                }
                connection.setDoOutput(true);
                connection.setFixedLengthStreamingMode(payload.length);
                try (OutputStream out = connection.getOutputStream()) {
                    out.write(payload);
                }
            }
            int status = connection.getResponseCode();
            InputStream stream = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
            byte[] answer;
            try (InputStream in = stream == null ? InputStream.nullInputStream() : stream) {
                answer = in.readAllBytes();
            }
            return decode(method, uri, status, answer, type);
        } catch (IOException e) {
            throw unreachable(e);
        }
    }

    private <T> Reply<T> decode(String method, URI uri, HttpResponse<byte[]> response, Class<T> type) {
        return decode(method, uri, response.statusCode(), response.body(), type);
    }

    private <T> Reply<T> decode(String method, URI uri, int status, byte[] body, Class<T> type) {
        if (status < 200 || status >= 300) {
            throw CliError.ofResponse(status, errorBody(body), method, uri.toString());
        }
        if (type == Void.class || body.length == 0) {
            return new Reply<>(null, null);
        }
        try {
            return new Reply<>(WireRecords.read(body, type), body);
        } catch (IllegalArgumentException e) {
            throw CliError.failed("unexpected answer to " + method + " " + uri + ": not the JSON Karta sends ("
                    + e.getMessage() + ")");
        }
    }

    private ErrorBody errorBody(byte[] body) {
        try {
            return WireRecords.read(body, ErrorBody.class);
        } catch (RuntimeException notJson) {
            return null;
        }
    }

    private static byte[] encode(Object body) {
        return JsonText.compact(WireRecords.toTree(body)).getBytes(StandardCharsets.UTF_8);
    }

    private HttpRequest.Builder base(URI uri) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri).header("User-Agent", userAgent);
        if (apiKey != null) {
            builder.header("Authorization", "Bearer " + apiKey);
        }
        return builder;
    }

    private URI uri(String path) {
        try {
            return URI.create(server + path);
        } catch (IllegalArgumentException e) {
            throw CliError.usage("not a valid server URL: " + server);
        }
    }

    private CliError unreachable(IOException e) {
        if (e instanceof HttpConnectTimeoutException) {
            return CliError.unavailable("cannot reach Karta at " + server + ": connection timed out");
        }
        if (e instanceof HttpTimeoutException) {
            return CliError.unavailable("Karta at " + server + " did not answer within "
                    + REQUEST_TIMEOUT.toSeconds() + " s");
        }
        if (e instanceof SocketTimeoutException) {
            // HttpURLConnection's: "Connect timed out" or "Read timed out".
            return e.getMessage() != null && e.getMessage().toLowerCase(Locale.ROOT).contains("connect")
                    ? CliError.unavailable("cannot reach Karta at " + server + ": connection timed out")
                    : CliError.unavailable("Karta at " + server + " did not answer within "
                            + REQUEST_TIMEOUT.toSeconds() + " s");
        }
        if (e instanceof ConnectException || e instanceof UnknownHostException) {
            String why = e.getCause() instanceof UnresolvedAddressException || e instanceof UnknownHostException
                    ? "unknown host" : "connection refused";
            return CliError.unavailable("cannot reach Karta at " + server + ": " + why
                    + " — is `karta server` running?");
        }
        String detail = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return CliError.unavailable("lost the connection to Karta at " + server + ": " + detail);
    }

    /** Percent-encodes one path segment: names typed by users never change the route. */
    static String segment(String value) {
        StringBuilder out = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || "-._~".indexOf(c) >= 0) {
                out.append(c);
            } else {
                out.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return out.toString();
    }

    /** {@code ?a=1&b=2} of the entries with a value, form-encoded; empty when there are none. */
    static String queryString(Map<String, String> query) {
        StringBuilder out = new StringBuilder();
        query.forEach((name, value) -> {
            if (value != null) {
                out.append(out.length() == 0 ? '?' : '&').append(URLEncoder.encode(name, StandardCharsets.UTF_8))
                        .append('=').append(URLEncoder.encode(value, StandardCharsets.UTF_8));
            }
        });
        return out.toString();
    }

    private static InputStream counting(Path file, LongConsumer bytesSent) {
        try {
            return new FilterInputStream(Files.newInputStream(file)) {
                private long total;

                @Override
                public int read() throws IOException {
                    int b = super.read();
                    if (b >= 0) {
                        bytesSent.accept(++total);
                    }
                    return b;
                }

                @Override
                public int read(byte[] buffer, int offset, int length) throws IOException {
                    int n = super.read(buffer, offset, length);
                    if (n > 0) {
                        total += n;
                        bytesSent.accept(total);
                    }
                    return n;
                }
            };
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
