package dev.karta.server.previews;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.repos.BoundRepos;
import dev.karta.server.store.Threads;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reports previews back to GitHub as commit statuses ({@code POST /repos/{o}/{r}/statuses/{sha}},
 * context {@code karta/preview}): {@code pending} when a build is queued, {@code success} with the
 * preview URL, {@code failure} with a link to the build log. Only for projects bound to a GitHub
 * repository with a token that may write to it (see {@link BoundRepos#statusTarget}). Reports are
 * sent off the caller's thread, one at a time; a report that fails is logged and dropped: it never
 * fails a build nor a request.
 */
public final class CommitStatuses implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CommitStatuses.class);
    static final String CONTEXT = "karta/preview";
    /** GitHub caps a status description at 140 characters. */
    private static final int MAX_DESCRIPTION = 140;

    private final String apiUrl;
    private final Function<String, Optional<BoundRepos.StatusTarget>> targets;
    private final ObjectMapper json;
    private final Duration connectTimeout;
    /** Made on the sender thread at the first report (its selector thread lives as long as it does). */
    private HttpClient http;
    private final ExecutorService sender = Executors.newSingleThreadExecutor(Threads.daemon("commit-statuses"));

    public CommitStatuses(String apiUrl, Function<String, Optional<BoundRepos.StatusTarget>> targets, ObjectMapper json,
                   Duration connectTimeout) {
        this.apiUrl = apiUrl;
        this.targets = targets;
        this.json = json;
        this.connectTimeout = connectTimeout;
    }

    /** Reports {@code success} or {@code failure} for a commit of a project. */
    void report(String projectId, String sha, String state, String targetUrl, String description) {
        enqueue(projectId, sha, state, targetUrl, description, () -> false);
    }

    /**
     * Reports {@code pending} for a queued build, unless {@code ended} says, when its turn comes to
     * be sent, that the build has ended: its own status was queued first then, and a pending one
     * after it would stay on GitHub for good.
     */
    void reportPending(String projectId, String sha, String targetUrl, String description, BooleanSupplier ended) {
        enqueue(projectId, sha, "pending", targetUrl, description, ended);
    }

    private void enqueue(String projectId, String sha, String state, String targetUrl, String description,
                         BooleanSupplier stale) {
        if (sha == null || !sha.matches("[0-9a-f]{40}")) {
            return; // GitHub takes statuses for full SHAs only
        }
        try {
            sender.execute(() -> send(projectId, sha, state, targetUrl, description, stale));
        } catch (RuntimeException e) {
            LOG.warn("commit status {} for {} not sent: {}", state, sha, e.toString());
        }
    }

    private void send(String projectId, String sha, String state, String targetUrl, String description,
                      BooleanSupplier stale) {
        Optional<BoundRepos.StatusTarget> target;
        try {
            if (stale.getAsBoolean()) {
                return;
            }
            target = targets.apply(projectId);
        } catch (RuntimeException e) {
            LOG.warn("commit status {} for {} not sent: {}", state, sha, e.toString());
            return;
        }
        if (target.isEmpty()) {
            return;
        }
        BoundRepos.StatusTarget t = target.get();
        Map<String, String> body = new LinkedHashMap<>();
        body.put("state", state);
        body.put("target_url", targetUrl);
        body.put("description", description.length() > MAX_DESCRIPTION
                ? description.substring(0, MAX_DESCRIPTION - 1) + "…" : description);
        body.put("context", CONTEXT);
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create(apiUrl + "/repos/" + t.owner() + "/" + t.repo()
                            + "/statuses/" + sha))
                    .timeout(Duration.ofSeconds(10))
                    .header("Accept", "application/vnd.github+json")
                    .header("Authorization", "Bearer " + t.token())
                    .header("Content-Type", "application/json")
                    .header("X-GitHub-Api-Version", "2022-11-28")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(json.writeValueAsBytes(body)))
                    .build();
            if (http == null) {
                http = HttpClient.newBuilder().connectTimeout(connectTimeout)
                        .followRedirects(HttpClient.Redirect.NEVER).build();
            }
            HttpResponse<Void> response = http.send(request, HttpResponse.BodyHandlers.discarding());
            if (response.statusCode() / 100 != 2) {
                LOG.warn("GitHub refused the commit status {} for {}@{}: HTTP {}", state, t, sha,
                        response.statusCode());
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not report the commit status {} for {}@{}: {}", state, t, sha, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        sender.shutdown();
        try {
            sender.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sender.shutdownNow();
    }
}
