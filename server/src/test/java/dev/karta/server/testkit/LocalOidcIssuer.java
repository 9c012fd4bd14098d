package dev.karta.server.testkit;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A stand-in for GitHub Actions' OIDC issuer on loopback: its discovery document and key set
 * (JDK HttpServer), and tokens signed with RSA keys made for the test. {@link #rotate()} publishes
 * a new key and signs with it from then on; {@link #jwksFetches()} counts key set requests.
 */
public final class LocalOidcIssuer implements AutoCloseable {
    private final HttpServer http;
    private final String url;
    private final List<RSAKey> published = new CopyOnWriteArrayList<>();
    private final AtomicInteger jwksFetches = new AtomicInteger();
    private volatile RSAKey signing;
    /** Whether the discovery document is served (else 404, and keys are at /.well-known/jwks). */
    public volatile boolean discovery = true;
    /** Bytes of padding added to the key set, to make it too large. */
    public volatile int jwksPadding;

    public LocalOidcIssuer() {
        try {
            http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        url = "http://127.0.0.1:" + http.getAddress().getPort();
        http.createContext("/.well-known/openid-configuration", exchange -> {
            if (!discovery) {
                exchange.sendResponseHeaders(404, -1);
                exchange.close();
                return;
            }
            byte[] body = ("{\"issuer\":\"" + url + "\",\"jwks_uri\":\"" + url + "/.well-known/jwks\","
                    + "\"id_token_signing_alg_values_supported\":[\"RS256\"]}").getBytes(StandardCharsets.UTF_8);
            send(exchange, body);
        });
        http.createContext("/.well-known/jwks", exchange -> {
            jwksFetches.incrementAndGet();
            List<RSAKey> keys = new ArrayList<>();
            published.forEach(key -> keys.add(key.toPublicJWK()));
            String set = new JWKSet(new ArrayList<>(keys)).toString();
            if (jwksPadding > 0) {
                set = set.substring(0, set.length() - 1) + ",\"padding\":\"" + "x".repeat(jwksPadding) + "\"}";
            }
            send(exchange, set.getBytes(StandardCharsets.UTF_8));
        });
        http.start();
        rotate();
    }

    private static void send(com.sun.net.httpserver.HttpExchange exchange, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    public static RSAKey newKey() {
        try {
            return new RSAKeyGenerator(2048).keyID(UUID.randomUUID().toString()).keyUse(KeyUse.SIGNATURE).generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Publishes a new key (next to the old ones) and signs with it from now on. */
    public RSAKey rotate() {
        RSAKey key = newKey();
        published.add(key);
        signing = key;
        return key;
    }

    public String url() {
        return url;
    }

    public int jwksFetches() {
        return jwksFetches.get();
    }

    /** The claims GitHub puts in a token of a push to main of acme/shop-agent, for {@code audience}. */
    public JWTClaimsSet.Builder claims(String audience) {
        Instant now = Instant.now();
        return new JWTClaimsSet.Builder()
                .issuer(url)
                .audience(audience)
                .subject("repo:acme/shop-agent:ref:refs/heads/main")
                .issueTime(Date.from(now))
                .notBeforeTime(Date.from(now.minusSeconds(5)))
                .expirationTime(Date.from(now.plus(Duration.ofMinutes(5))))
                .jwtID(UUID.randomUUID().toString())
                .claim("repository", "acme/shop-agent")
                .claim("repository_owner", "acme")
                .claim("ref", "refs/heads/main")
                .claim("sha", "0123456789abcdef0123456789abcdef01234567")
                .claim("workflow", "deploy")
                .claim("event_name", "push");
    }

    /** A token with the default claims, changed by {@code change}, signed with the current key. */
    public String token(String audience, Consumer<JWTClaimsSet.Builder> change) {
        JWTClaimsSet.Builder claims = claims(audience);
        change.accept(claims);
        return sign(claims.build(), signing, signing.getKeyID());
    }

    public static String sign(JWTClaimsSet claims, RSAKey key, String kid) {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(kid)
                .type(com.nimbusds.jose.JOSEObjectType.JWT).build(), claims);
        try {
            jwt.sign(new RSASSASigner(key));
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
        return jwt.serialize();
    }

    /** The default claims signed with HMAC-SHA256 under {@code secret}, naming the current key id. */
    public String hmacToken(String audience, byte[] secret) {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(signing.getKeyID()).build(),
                claims(audience).build());
        try {
            jwt.sign(new MACSigner(secret));
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
        return jwt.serialize();
    }

    /** The default claims, unsigned ({@code alg: none}). */
    public String unsignedToken(String audience) {
        return new PlainJWT(claims(audience).build()).serialize();
    }

    public RSAKey signingKey() {
        return signing;
    }

    @Override
    public void close() {
        http.stop(0);
    }
}
