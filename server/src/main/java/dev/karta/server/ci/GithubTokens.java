package dev.karta.server.ci;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.EncryptedJWT;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.SignedJWT;
import dev.karta.api.Printable;
import dev.karta.server.Config;
import dev.karta.server.http.ApiError;
import java.text.ParseException;
import java.time.Clock;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Checks a GitHub Actions OIDC token: an RS256 JWS (nothing else: no {@code none}, no HMAC) signed
 * by a key the issuer publishes ({@link IssuerKeys}), then, with the signature verified, its
 * {@code iss} (the configured issuer, exactly), {@code aud} (Karta's public URL), {@code exp},
 * {@code nbf} and {@code iat} (with {@link Config.Oidc#clockSkew()} of leeway) and the presence of
 * {@code repository} and {@code ref}. Every refusal is a 401 whose message says which check failed;
 * no message quotes the token, and claims are quoted only once the signature holds.
 */
final class GithubTokens {
    private static final Pattern KEY_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final Pattern ALGORITHM = Pattern.compile("[A-Za-z0-9+_-]{1,20}");

    /** The claims of a verified token that a trust is matched on, and a few for the record. */
    record Claims(String repository, String ref, String environment, String subject) {
    }

    private final Config.Oidc settings;
    private final IssuerKeys keys;
    private final Clock clock;

    GithubTokens(Config.Oidc settings, IssuerKeys keys, Clock clock) {
        this.settings = settings;
        this.keys = keys;
        this.clock = clock;
    }

    Claims verify(String token, String audience) {
        if (token == null || token.isBlank()) {
            throw ApiError.badRequest("token is required: the GitHub Actions OIDC token of the job (requested with "
                    + "permissions: id-token: write and audience " + audience + ")");
        }
        if (token.length() > settings.maxTokenBytes()) {
            throw ApiError.badRequest("token is longer than " + settings.maxTokenBytes() + " characters");
        }
        JWT jwt;
        try {
            jwt = JWTParser.parse(token.trim());
        } catch (ParseException e) {
            throw refused("token is not a JWT (three base64url parts: header, claims, signature)");
        }
        if (jwt instanceof EncryptedJWT) {
            throw refused("token is encrypted; expected a JWT signed with RS256 by " + settings.githubIssuer());
        }
        if (!(jwt instanceof SignedJWT signed)) {
            throw refused("token is not signed (alg none); only RS256-signed tokens are accepted");
        }
        JWSAlgorithm alg = signed.getHeader().getAlgorithm();
        if (!JWSAlgorithm.RS256.equals(alg)) {
            // The header is not verified yet: its algorithm is named only when it looks like one.
            String name = alg == null ? "no algorithm" : ALGORITHM.matcher(alg.getName()).matches() ? alg.getName()
                    : "an unknown algorithm";
            throw refused("token is signed with " + name + "; only RS256 is accepted");
        }
        String kid = signed.getHeader().getKeyID();
        if (kid == null || kid.isBlank()) {
            throw refused("token header has no key id (kid)");
        }
        RSAKey key = keys.signingKey(kid);
        if (key == null) {
            throw refused("token is signed with key id " + (KEY_ID.matcher(kid).matches() ? "'" + kid + "'" : "(malformed)")
                    + ", which issuer " + settings.githubIssuer() + " does not publish");
        }
        try {
            if (!signed.verify(new RSASSAVerifier(key))) {
                throw refused("token signature does not verify against the issuer's key " + kid);
            }
        } catch (JOSEException e) {
            throw refused("token signature cannot be verified with the issuer's key " + kid);
        }
        JWTClaimsSet claims;
        try {
            claims = signed.getJWTClaimsSet();
        } catch (ParseException e) {
            throw refused("token claims are not a JSON object");
        }
        checkTimes(claims);
        String issuer = claims.getIssuer();
        if (issuer == null || !issuer.equals(settings.githubIssuer())) {
            throw refused("token issuer is " + quoted(issuer) + ", expected '" + settings.githubIssuer() + "'");
        }
        List<String> audiences = claims.getAudience();
        if (audiences == null || audiences.stream().noneMatch(aud -> stripSlash(aud).equals(stripSlash(audience)))) {
            throw refused("token audience is " + (audiences == null || audiences.isEmpty() ? "missing"
                    : quoted(String.join(", ", audiences))) + ", expected '" + audience + "': request the token "
                    + "with that audience (core.getIDToken('" + audience + "'))");
        }
        String repository = text(claims, "repository");
        String ref = text(claims, "ref");
        if (repository == null || ref == null) {
            throw refused("token has no " + (repository == null ? "repository" : "ref")
                    + " claim: is it a GitHub Actions token?");
        }
        String environment = text(claims, "environment");
        return new Claims(repository, ref, environment == null || environment.isBlank() ? null : environment,
                claims.getSubject());
    }

    private void checkTimes(JWTClaimsSet claims) {
        Instant now = clock.instant();
        Date exp = claims.getExpirationTime();
        if (exp == null) {
            throw refused("token has no expiry (exp)");
        }
        if (now.isAfter(exp.toInstant().plus(settings.clockSkew()))) {
            throw refused("token expired at " + exp.toInstant() + " (it is now " + now + "); request a new one");
        }
        Date nbf = claims.getNotBeforeTime();
        if (nbf != null && now.plus(settings.clockSkew()).isBefore(nbf.toInstant())) {
            throw refused("token is not valid before " + nbf.toInstant() + " (it is now " + now + ")");
        }
        Date iat = claims.getIssueTime();
        if (iat != null && now.plus(settings.clockSkew()).isBefore(iat.toInstant())) {
            throw refused("token is issued in the future, at " + iat.toInstant() + " (it is now " + now + ")");
        }
    }

    private static String text(JWTClaimsSet claims, String name) {
        Object value = claims.getClaim(name);
        return value instanceof String s && !s.isBlank() ? s : null;
    }

    private static String quoted(String value) {
        if (value == null) {
            return "missing";
        }
        return "'" + Printable.line(value.length() > 200 ? value.substring(0, 200) + "…" : value) + "'";
    }

    private static String stripSlash(String url) {
        return url != null && url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    private static ApiError refused(String message) {
        return new ApiError(ApiError.Kind.UNAUTHORIZED, "invalid_token", message);
    }
}
