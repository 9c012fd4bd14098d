package dev.karta.server.webhooks;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): {@code v1,} and the base64 of
 * HMAC-SHA256 over {@code msgId.timestamp.body}, keyed with the base64-decoded part of the secret
 * after {@code whsec_}. Receivers verify with the specification's libraries.
 */
final class Signatures {
    private Signatures() {
    }

    /** The {@code webhook-signature} header value for one message. */
    static String sign(String secret, String messageId, long timestampSeconds, String body) {
        if (!secret.startsWith(WebhookEndpoints.SECRET_PREFIX)) {
            throw new IllegalArgumentException("not a whsec_ secret");
        }
        byte[] key = Base64.getDecoder().decode(secret.substring(WebhookEndpoints.SECRET_PREFIX.length()));
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] digest = mac.doFinal((messageId + "." + timestampSeconds + "." + body)
                    .getBytes(StandardCharsets.UTF_8));
            return "v1," + Base64.getEncoder().encodeToString(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }
}
