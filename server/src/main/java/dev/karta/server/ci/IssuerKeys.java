package dev.karta.server.ci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import dev.karta.server.Config;
import dev.karta.server.http.ApiError;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The signing keys an OIDC issuer publishes, fetched and cached. The key set's address comes from
 * {@code {issuer}/.well-known/openid-configuration} ({@code jwks_uri}, which must be on the
 * issuer's own origin), or is {@code {issuer}/.well-known/jwks} when there is no such document.
 * Every fetch has a connect timeout, a deadline for the whole answer and a size cap, and follows
 * no redirects.
 *
 * <p>The set is kept for {@link Config.Oidc#keysTtl()}. A token signed with a key id that is not
 * in it fetches the set again, at most once per {@link Config.Oidc#minRefetchInterval()} (the
 * issuer rotated its keys; made-up key ids must not turn into a stream of fetches). A set that
 * cannot be fetched again keeps being used while it is stale; without any set, the exchange
 * answers 503 and tries again at most every {@link #FAILED_FETCH_BACKOFF}. One fetch at a time.
 */
final class IssuerKeys {
    private static final Logger LOG = LoggerFactory.getLogger(IssuerKeys.class);
    static final Duration FAILED_FETCH_BACKOFF = Duration.ofSeconds(5);

    private final String issuer;
    private final Config.Oidc settings;
    /** Made at the first fetch: a JDK client starts a selector thread, which a failed start must not leave. */
    private HttpClient http;
    private final ObjectMapper json;
    private final Clock clock;
    private final AtomicLong fetches = new AtomicLong();

    private JWKSet keys;
    private Instant fetchedAt;
    private Instant lastRefetch;
    private Instant lastFailure;
    private String lastError;

    IssuerKeys(Config.Oidc settings, ObjectMapper json, Clock clock) {
        this.issuer = settings.githubIssuer();
        this.settings = settings;
        this.json = json;
        this.clock = clock;
    }

    /** Fetches of the key set (each with its discovery document) so far: for tests and metrics. */
    long fetches() {
        return fetches.get();
    }

    /**
     * The issuer's RSA signing key {@code kid}, or null when the issuer does not publish it (after
     * a fetch of the set when the interval allows one). 503 when the issuer's keys cannot be had.
     */
    synchronized RSAKey signingKey(String kid) {
        Instant now = clock.instant();
        if (keys == null || now.isAfter(fetchedAt.plus(settings.keysTtl()))) {
            load(now);
        }
        JWK key = keys.getKeyByKeyId(kid);
        if (key == null && (lastRefetch == null || !now.isBefore(lastRefetch.plus(settings.minRefetchInterval())))) {
            lastRefetch = now;
            LOG.info("OIDC token signed with key id not in {}'s cached key set: fetching the set again", issuer);
            reload(now);
            key = keys.getKeyByKeyId(kid);
        }
        if (!(key instanceof RSAKey rsa) || (key.getKeyUse() != null && !KeyUse.SIGNATURE.equals(key.getKeyUse()))) {
            return null;
        }
        return rsa;
    }

    /** Loads the set when there is none or it is stale; a failure keeps a stale set in use. */
    private void load(Instant now) {
        if (keys == null && lastFailure != null && now.isBefore(lastFailure.plus(FAILED_FETCH_BACKOFF))) {
            throw unavailable(lastError);
        }
        reload(now);
    }

    private void reload(Instant now) {
        fetches.incrementAndGet();
        try {
            JWKSet fetched = JWKSet.parse(new String(get(jwksUri()), StandardCharsets.UTF_8));
            keys = fetched;
            fetchedAt = now;
            lastFailure = null;
        } catch (ParseException e) {
            failed(now, "its key set is not a valid JWK set (" + e.getMessage() + ")");
        } catch (FetchFailed e) {
            failed(now, e.getMessage());
        }
    }

    private void failed(Instant now, String error) {
        lastFailure = now;
        lastError = error;
        if (keys == null) {
            throw unavailable(error);
        }
        LOG.warn("could not refresh the signing keys of OIDC issuer {}: {}; using the keys fetched at {}", issuer,
                error, fetchedAt);
        // A stale set stays in use; fetch it again no sooner than the back-off allows.
        fetchedAt = now.minus(settings.keysTtl()).plus(FAILED_FETCH_BACKOFF);
    }

    private ApiError unavailable(String error) {
        return ApiError.unavailable("cannot check the token: the signing keys of OIDC issuer " + issuer
                + " could not be fetched (" + error + "); try again shortly");
    }

    /** The key set's address: the discovery document's {@code jwks_uri}, else {@code /.well-known/jwks}. */
    private URI jwksUri() throws FetchFailed {
        URI discovery = URI.create(issuer + "/.well-known/openid-configuration");
        byte[] body;
        try {
            body = get(discovery);
        } catch (NotFound e) {
            return URI.create(issuer + "/.well-known/jwks");
        }
        JsonNode doc;
        try {
            doc = json.readTree(body);
        } catch (IOException e) {
            throw new FetchFailed(discovery + " is not JSON");
        }
        JsonNode claimedIssuer = doc.path("issuer");
        if (claimedIssuer.isTextual() && !stripSlash(claimedIssuer.asText()).equals(issuer)) {
            throw new FetchFailed(discovery + " names another issuer");
        }
        JsonNode jwks = doc.path("jwks_uri");
        if (!jwks.isTextual()) {
            return URI.create(issuer + "/.well-known/jwks");
        }
        URI uri;
        try {
            uri = URI.create(jwks.asText());
        } catch (IllegalArgumentException e) {
            throw new FetchFailed("its jwks_uri is not a URL");
        }
        URI base = URI.create(issuer);
        // The keys must come from the issuer itself: a discovery document is no reason to fetch
        // from another host.
        if (!Objects.equals(uri.getScheme(), base.getScheme()) || !Objects.equals(uri.getHost(), base.getHost())
                || uri.getPort() != base.getPort()) {
            throw new FetchFailed("its jwks_uri " + uri + " is not on the issuer's origin");
        }
        return uri;
    }

    private static String stripSlash(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    /** GETs {@code uri}: its body when 200, within the deadline and the size cap. */
    private byte[] get(URI uri) throws FetchFailed {
        if (http == null) {
            http = HttpClient.newBuilder()
                    .connectTimeout(settings.fetchTimeout())
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .build();
        }
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(settings.fetchTimeout())
                .header("Accept", "application/json").GET().build();
        CompletableFuture<HttpResponse<byte[]>> sent = http.sendAsync(request,
                info -> info.statusCode() == 200 ? new Capped(settings.maxDocumentBytes())
                        : HttpResponse.BodySubscribers.replacing(null));
        HttpResponse<byte[]> response;
        try {
            response = sent.get(settings.fetchTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            sent.cancel(true);
            throw new FetchFailed(uri + " did not answer within " + settings.fetchTimeout().toSeconds() + "s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FetchFailed("interrupted");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof IOException io && io.getCause() instanceof TooLarge
                    ? io.getCause() : e.getCause();
            throw new FetchFailed(cause instanceof TooLarge ? uri + " is larger than " + settings.maxDocumentBytes()
                    + " bytes" : uri + ": " + cause);
        }
        if (response.statusCode() == 404) {
            throw new NotFound(uri + " answered 404");
        }
        if (response.statusCode() != 200) {
            throw new FetchFailed(uri + " answered " + response.statusCode());
        }
        return response.body();
    }

    /** Why the issuer's keys could not be fetched; the message is for the operator's log and the 503. */
    private static class FetchFailed extends Exception {
        FetchFailed(String message) {
            super(message, null, false, false);
        }
    }

    private static final class NotFound extends FetchFailed {
        NotFound(String message) {
            super(message);
        }
    }

    private static final class TooLarge extends IOException {
        TooLarge() {
            super("too large");
        }
    }

    /** A body read whole, refused (and the exchange cut) past {@code max} bytes. */
    private static final class Capped implements HttpResponse.BodySubscriber<byte[]> {
        private final long max;
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private Flow.Subscription subscription;

        Capped(long max) {
            this.max = max;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            for (ByteBuffer item : items) {
                if (out.size() + (long) item.remaining() > max) {
                    subscription.cancel();
                    result.completeExceptionally(new TooLarge());
                    return;
                }
                byte[] chunk = new byte[item.remaining()];
                item.get(chunk);
                out.writeBytes(chunk);
            }
        }

        @Override
        public void onError(Throwable error) {
            result.completeExceptionally(error);
        }

        @Override
        public void onComplete() {
            result.complete(out.toByteArray());
        }
    }
}
