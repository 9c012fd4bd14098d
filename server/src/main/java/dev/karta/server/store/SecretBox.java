package dev.karta.server.store;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.function.Supplier;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Encrypts small secrets before they reach the database (webhook secrets, repository
 * credentials, config vars): AES-256-GCM with a random 96-bit nonce per value, stored as {@code v1:} and the
 * base64 of nonce and ciphertext (with its tag). The key is 32 random bytes, base64 on one line,
 * in a file of its own ({@code --secrets-key-file}, default {@code secrets.key} in the data
 * dir), read, and created with mode 0600 on first start, by {@code datadir.SecretFiles}. Losing the key loses the secrets it sealed;
 * a key file that exists but does not hold a key stops the start (a new key would silently make
 * every stored secret unreadable).
 */
public final class SecretBox {
    private static final String PREFIX = "v1:";
    private static final int KEY_BYTES = 32;
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final SecureRandom RANDOM = new SecureRandom();

    private static final String DIGEST_PREFIX = "hmac-sha256:";

    private final SecretKeySpec key;
    /**
     * The key of {@link #digest}, asked for on first use. Derived from the box's key until
     * {@link #withDigestKey} sets the installation's stored one (see {@code ServerKeys}), which
     * outlives a rotation of the box's key.
     */
    private final Supplier<byte[]> digestKeySource;
    private volatile SecretKeySpec digestKey;

    private SecretBox(byte[] key, Supplier<byte[]> digestKey) {
        this.key = new SecretKeySpec(key, "AES");
        this.digestKeySource = digestKey;
    }

    private SecretBox(byte[] key) {
        this(key, () -> derivedDigestKey(key));
    }

    private static byte[] derivedDigestKey(byte[] key) {
        return hmac(new SecretKeySpec(key, "HmacSHA256"), "karta digest key v1".getBytes(StandardCharsets.UTF_8));
    }

    /**
     * This box with the key {@code digestKey} supplies (32 bytes) as the key of its digests; it is
     * asked for once, at the first digest, so a box whose stored digest key cannot be read still
     * seals and opens, and fails only where a digest is needed.
     */
    public SecretBox withDigestKey(Supplier<byte[]> digestKey) {
        return new SecretBox(key.getEncoded(), digestKey);
    }

    private SecretKeySpec digestKey() {
        SecretKeySpec known = digestKey;
        if (known == null) {
            byte[] bytes = digestKeySource.get();
            if (bytes.length != KEY_BYTES) {
                throw new IllegalStateException("a digest key has " + KEY_BYTES + " bytes");
            }
            known = new SecretKeySpec(bytes, "HmacSHA256");
            digestKey = known;
        }
        return known;
    }

    /** The key of this box's digests, base64: to be stored sealed, never in plain text. */
    String digestKeyText() {
        return Base64.getEncoder().encodeToString(digestKey().getEncoded());
    }

    /**
     * The box whose key is {@code keyText}, the content of the key file {@code source}; a text
     * that is not one key is an error that names the file.
     */
    public static SecretBox fromKeyText(String keyText, Object source) {
        return new SecretBox(decode(keyText, source));
    }

    /** The content of a new key file: a fresh random key, base64 on one line. */
    public static String newKeyText() {
        byte[] key = new byte[KEY_BYTES];
        RANDOM.nextBytes(key);
        return Base64.getEncoder().encodeToString(key) + "\n";
    }

    /** Whether {@code stored} is a value this box wrote (as opposed to a plaintext left from before). */
    public static boolean isSealed(String stored) {
        return stored != null && stored.startsWith(PREFIX);
    }

    public String seal(String plaintext) {
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            byte[] sealed = cipher.doFinal(plaintext.getBytes(StandardCharsets.UTF_8));
            byte[] out = new byte[NONCE_BYTES + sealed.length];
            System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
            System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
            return PREFIX + Base64.getEncoder().encodeToString(out);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available", e);
        }
    }

    /**
     * A keyed digest of {@code text} ({@code hmac-sha256:} and 64 hex digits): equal texts give
     * equal digests under one key, and without the key nobody can check a guess against one, which
     * a plain hash of a short secret would allow.
     */
    public String digest(String text) {
        return DIGEST_PREFIX + HexFormat.of().formatHex(hmac(digestKey(), text.getBytes(StandardCharsets.UTF_8)));
    }

    private static byte[] hmac(SecretKeySpec key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available", e);
        }
    }

    /** The plaintext of a sealed value; a value sealed with another key (or altered) is an error. */
    public String open(String sealed) {
        if (!isSealed(sealed)) {
            throw new IllegalArgumentException("not a sealed secret");
        }
        try {
            byte[] in = Base64.getDecoder().decode(sealed.substring(PREFIX.length()));
            if (in.length < NONCE_BYTES + TAG_BITS / 8) {
                throw new IllegalArgumentException("sealed secret is too short");
            }
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, in, 0, NONCE_BYTES));
            return new String(cipher.doFinal(in, NONCE_BYTES, in.length - NONCE_BYTES), StandardCharsets.UTF_8);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IllegalStateException("a stored secret cannot be decrypted with the secrets key file: was the "
                    + "key file replaced?", e);
        }
    }

    private static byte[] decode(String keyText, Object file) {
        byte[] key;
        try {
            key = Base64.getDecoder().decode(keyText.trim());
        } catch (IllegalArgumentException e) {
            key = new byte[0];
        }
        if (key.length != KEY_BYTES) {
            Arrays.fill(key, (byte) 0);
            throw new IllegalStateException("the secrets key file " + file + " is malformed: it must hold "
                    + KEY_BYTES + " random bytes in base64 on one line (44 characters). Restore the original file: "
                    + "stored webhook secrets and repository credentials can only be read with it");
        }
        return key;
    }
}
