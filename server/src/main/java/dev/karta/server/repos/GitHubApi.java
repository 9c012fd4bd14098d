package dev.karta.server.repos;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Config;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.http.ApiError;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The two GitHub REST calls a bound repository needs: the tarball of a commit
 * ({@code GET /repos/{o}/{r}/tarball/{sha}}, a redirect to an archive host) and the full SHA of an
 * abbreviated one ({@code GET /repos/{o}/{r}/commits/{sha}}). Redirects are followed here, not by
 * the HTTP client, so that the token goes only to the configured API origin and never to the
 * host a redirect points at. Connection failures, timeouts and 5xx answers are retried a bounded
 * number of times with exponential backoff, within one fetch deadline; 401, 403, 404 and rate
 * limits are not. The token is the binding's own, or the operator's for the owners it is meant
 * for, or none ({@link BoundRepos} chooses).
 */
final class GitHubApi {
    private static final int MAX_REDIRECTS = 5;
    private static final int MAX_ERROR_BODY = 64 * 1024;
    private static final Set<Integer> REDIRECTS = Set.of(301, 302, 303, 307, 308);
    private static final Pattern FULL_SHA = Pattern.compile("[0-9a-f]{40}");
    static final String TOKEN_HINT = "bind it with a token: karta repo bind PROJECT URL --token-stdin";

    private final URI api;
    private final Egress egress;
    private final int attempts;
    private final Duration backoff;
    private final ObjectMapper json;

    /**
     * @param attempts how many times a transient failure is tried in all (at least 1)
     * @param backoff  the wait before the second attempt; it doubles for each further one
     */
    GitHubApi(Config.Repos settings, Egress egress, int attempts, Duration backoff, ObjectMapper json) {
        this.api = URI.create(settings.githubApiUrl() + "/");
        this.egress = egress;
        this.attempts = Math.max(1, attempts);
        this.backoff = backoff;
        this.json = json;
    }

    String apiUrl() {
        String s = api.toString();
        return s.substring(0, s.length() - 1);
    }

    /**
     * Downloads the tarball of {@code sha} and hands the stream to {@code reader} (the
     * materializer, whose size caps apply while the bytes arrive), sending {@code token} (or none)
     * to the API. A refusal by GitHub is a {@link BuildFailed} saying why; so is a transient
     * failure that outlasts the retries, and a download that outlasts the fetch deadline.
     */
    <T> T tarball(String owner, String repo, String sha, String token, Consumer<String> log,
                  GitRepos.ArchiveReader<T> reader) throws IOException {
        URI uri = api.resolve("repos/" + owner + "/" + repo + "/tarball/" + sha);
        String what = "the tarball of " + owner + "/" + repo + "@" + sha;
        log.accept("Fetching " + uri);
        try (Egress.Fetch fetch = egress.begin()) {
            for (int attempt = 1; ; attempt++) {
                try {
                    return tarballOnce(fetch, uri, owner, repo, sha, token, reader);
                } catch (Transient e) {
                    if (fetch.timedOut()) {
                        throw new BuildFailed("could not download " + what + ": timed out after "
                                + fetch.deadline().toSeconds() + " s (the fetch deadline)");
                    }
                    if (Thread.currentThread().isInterrupted()) {
                        throw new InterruptedIOException("interrupted while downloading " + what);
                    }
                    if (attempt >= attempts) {
                        throw new BuildFailed("could not download " + what + " from GitHub after " + attempts
                                + " attempts: " + e.getMessage());
                    }
                    Duration wait = backoff.multipliedBy(1L << (attempt - 1));
                    log.accept("Download attempt " + attempt + " failed (" + e.getMessage() + "); retrying in "
                            + wait.toMillis() + " ms");
                    pause(wait);
                }
            }
        }
    }

    private <T> T tarballOnce(Egress.Fetch fetch, URI start, String owner, String repo, String sha, String token,
                              GitRepos.ArchiveReader<T> reader) throws IOException {
        Answer response = follow(fetch, start, "application/vnd.github+json", token);
        try (InputStream body = response.body()) {
            int status = response.status();
            if (status != 200) {
                String message = errorMessage(body);
                throw refusal(status, response, message, owner + "/" + repo, token,
                        "GitHub has no commit " + sha + " in " + owner + "/" + repo + " (404"
                                + (message.isEmpty() ? "" : " " + message) + "): check the SHA; a private repository "
                                + "also answers 404 without a token (" + TOKEN_HINT + ")");
            }
            Tracked tracked = new Tracked(body);
            try {
                return reader.read(tracked);
            } catch (IOException | RuntimeException e) {
                if (tracked.failure != null || fetch.timedOut()) {
                    throw new Transient("download interrupted: could not read from " + response.host());
                }
                throw e;
            }
        } finally {
            response.connection().disconnect();
        }
    }

    /**
     * The full SHA of the commit {@code hex} abbreviates in {@code owner/repo}, asked within
     * {@code within}. Unknown commits are a 422 {@code unknown_commit}; a refusal by GitHub a 422
     * {@code github_refused}; GitHub being unreachable or rate limited a 503; no answer in time
     * is empty.
     */
    Optional<String> resolveCommit(String owner, String repo, String hex, String token, Duration within) {
        URI uri = api.resolve("repos/" + owner + "/" + repo + "/commits/" + hex);
        String repoName = owner + "/" + repo;
        try (Egress.Fetch fetch = egress.begin(within)) {
            for (int attempt = 1; ; attempt++) {
                try {
                    return Optional.of(resolveOnce(fetch, uri, repoName, hex, token));
                } catch (Transient e) {
                    if (fetch.timedOut()) {
                        return Optional.empty();
                    }
                    if (attempt >= attempts) {
                        throw new ApiError(ApiError.Kind.UNAVAILABLE, "github_unavailable", "could not ask GitHub for "
                                + "commit " + hex + " of " + repoName + " (" + e.getMessage() + "); retry later, or "
                                + "give the full 40-hex SHA, which is fetched when the build runs");
                    }
                    try {
                        pause(backoff.multipliedBy(1L << (attempt - 1)));
                    } catch (InterruptedIOException interrupted) {
                        throw ApiError.unavailable("interrupted while asking GitHub for commit " + hex);
                    }
                } catch (BuildFailed e) {
                    throw new ApiError(ApiError.Kind.UNPROCESSABLE, "github_refused", e.getMessage());
                } catch (IOException e) {
                    throw new ApiError(ApiError.Kind.UNAVAILABLE, "github_unavailable", "could not ask GitHub for "
                            + "commit " + hex + " of " + repoName);
                }
            }
        }
    }

    private String resolveOnce(Egress.Fetch fetch, URI uri, String repoName, String hex, String token)
            throws IOException {
        Answer response = follow(fetch, uri, "application/vnd.github.sha", token);
        try (InputStream body = response.body()) {
            int status = response.status();
            if (status == 404 || status == 422) {
                String message = errorMessage(body);
                throw ApiError.unprocessable("unknown_commit", "GitHub has no commit " + hex + " in " + repoName
                        + " (" + status + (message.isEmpty() ? "" : " " + message) + "): check the SHA (a private "
                        + "repository also answers 404 without a token: " + TOKEN_HINT + ")");
            }
            if (status != 200) {
                String message = errorMessage(body);
                String reason = refusal(status, response, message, repoName, token, "GitHub answered " + status)
                        .getMessage();
                throw rateLimited(status, response, message)
                        ? new ApiError(ApiError.Kind.UNAVAILABLE, "github_unavailable", reason)
                        : new ApiError(ApiError.Kind.UNPROCESSABLE, "github_refused", reason);
            }
            String text = new String(body.readNBytes(MAX_ERROR_BODY), StandardCharsets.UTF_8).trim();
            String sha = text;
            if (text.startsWith("{")) {
                JsonNode node = json.readTree(text).get("sha");
                sha = node == null ? "" : node.asText();
            }
            sha = sha.toLowerCase(Locale.ROOT);
            if (!FULL_SHA.matcher(sha).matches() || !sha.startsWith(hex.toLowerCase(Locale.ROOT))) {
                throw ApiError.unprocessable("unknown_commit", "GitHub did not name a commit starting with " + hex
                        + " in " + repoName + "; give the full 40-hex SHA");
            }
            return sha;
        } catch (IOException e) {
            throw new Transient("could not read from " + response.host());
        } finally {
            response.connection().disconnect();
        }
    }

    /** An answer with its body unread; error answers' bodies are their error streams. */
    private record Answer(int status, HttpURLConnection connection, String host) {
        InputStream body() throws IOException {
            InputStream in = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
            return in == null ? InputStream.nullInputStream() : in;
        }

        Optional<String> header(String name) {
            return Optional.ofNullable(connection.getHeaderField(name));
        }
    }

    /**
     * Sends a GET and follows redirects itself: {@code Authorization} is added only while the
     * request goes to the API's own origin (scheme, host and port), which is operator
     * configuration and trusted; every other host (where the API redirects to) is checked by the
     * {@link Egress} like a tenant's URL, unless the operator allowed it. Answers other than
     * redirects are returned with their body unread. Every network failure reads the same.
     */
    private Answer follow(Egress.Fetch fetch, URI start, String accept, String token) throws IOException {
        URI uri = start;
        for (int hop = 0; ; hop++) {
            boolean api = sameOrigin(uri, this.api);
            HttpURLConnection connection = fetch.open(uri, api || egress.allowed(uri.toString()));
            connection.setInstanceFollowRedirects(false);
            connection.setRequestProperty("Accept", accept);
            connection.setRequestProperty("User-Agent", "karta");
            connection.setRequestProperty("X-GitHub-Api-Version", "2022-11-28");
            if (token != null && api) {
                connection.setRequestProperty("Authorization", "Bearer " + token);
            }
            int status;
            try {
                status = connection.getResponseCode();
            } catch (IOException e) {
                connection.disconnect();
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedIOException("interrupted while talking to GitHub");
                }
                throw new Transient("could not reach " + uri.getHost());
            }
            Answer answer = new Answer(status, connection, uri.getHost());
            if (status >= 500) {
                connection.disconnect();
                throw new Transient(uri.getHost() + " answered " + status);
            }
            if (!REDIRECTS.contains(status)) {
                return answer;
            }
            Optional<String> location = answer.header("Location");
            connection.disconnect();
            if (location.isEmpty() || hop >= MAX_REDIRECTS) {
                throw new BuildFailed(location.isEmpty() ? "GitHub answered " + status + " without a Location"
                        : "GitHub redirected more than " + MAX_REDIRECTS + " times");
            }
            URI next = uri.resolve(location.get());
            String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("https") && !scheme.equals("http")) {
                throw new BuildFailed("GitHub redirected to an unsupported URL scheme '" + scheme + "'");
            }
            uri = next;
        }
    }

    /** The reason a non-200, non-404 answer gives, as a build failure. */
    private BuildFailed refusal(int status, Answer response, String message, String repoName, String token,
                                String notFound) {
        String said = message.isEmpty() ? "" : " " + message;
        if (rateLimited(status, response, message)) {
            String reset = response.header("x-ratelimit-reset").flatMap(GitHubApi::epochSeconds)
                    .map(at -> "; it resets at " + at).orElse("");
            String retry = response.header("retry-after").map(s -> "; retry after " + s + " s").orElse("");
            return new BuildFailed("GitHub rate limit reached (" + status + said + ")" + reset + retry
                    + (token == null ? "; a token raises the limit (" + TOKEN_HINT + ")" : ""));
        }
        return switch (status) {
            case 404 -> new BuildFailed(notFound);
            case 401 -> new BuildFailed("GitHub rejected the token (401" + said + "): check the binding's token, or "
                    + "KARTA_GITHUB_TOKEN for the owners it is meant for");
            case 403 -> new BuildFailed("GitHub refused access to " + repoName + " (403" + said + "): "
                    + (token == null ? "a private repository needs a token (" + TOKEN_HINT + ")"
                    : "the token needs read access to its contents"));
            default -> new BuildFailed("GitHub answered " + status + said + " for " + repoName);
        };
    }

    /** GitHub signals rate limits with 429, or with 403 and no requests remaining (or a message saying so). */
    private static boolean rateLimited(int status, Answer response, String message) {
        return status == 429 || status == 403
                && (response.header("x-ratelimit-remaining").map("0"::equals).orElse(false)
                || message.toLowerCase(Locale.ROOT).contains("rate limit"));
    }

    private static Optional<String> epochSeconds(String value) {
        try {
            return Optional.of(Instant.ofEpochSecond(Long.parseLong(value.trim())).toString());
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** GitHub's {@code {"message": …}}, quoted and cut short; empty when there is none. */
    private String errorMessage(InputStream body) {
        try {
            byte[] bytes = body.readNBytes(MAX_ERROR_BODY);
            JsonNode message = json.readTree(bytes).get("message");
            if (message == null || !message.isTextual() || message.asText().isBlank()) {
                return "";
            }
            String text = message.asText().replaceAll("\\p{Cntrl}", " ").trim();
            return "\"" + (text.length() > 200 ? text.substring(0, 200) + "…" : text) + "\"";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme() != null && a.getScheme().equalsIgnoreCase(b.getScheme())
                && a.getHost() != null && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI uri) {
        if (uri.getPort() >= 0) {
            return uri.getPort();
        }
        return "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
    }

    private static void pause(Duration wait) throws InterruptedIOException {
        try {
            Thread.sleep(wait.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to retry");
        }
    }

    /** A failure worth another attempt: the network, a timeout, a 5xx. */
    private static final class Transient extends IOException {
        Transient(String message) {
            super(message);
        }
    }

    /** Remembers an I/O failure of the download itself, to tell it from a bad archive. */
    private static final class Tracked extends FilterInputStream {
        private IOException failure;

        Tracked(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (IOException e) {
                failure = e;
                throw e;
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (IOException e) {
                failure = e;
                throw e;
            }
        }
    }
}
