package dev.karta.server.datadir;

import dev.karta.server.store.SecretBox;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.UUID;

/**
 * The files that hold secrets outside the database: the secrets key file of the {@link SecretBox}
 * and the secret files an operator names on the command line ({@code --bootstrap-key-file},
 * {@code --github-token-file}).
 */
public final class SecretFiles {
    private SecretFiles() {
    }

    /** The box whose key is in {@code file}, creating the file (mode 0600, atomically) when it is missing. */
    public static SecretBox secretBox(Path file) {
        String text;
        try {
            if (!Files.exists(file)) {
                create(file, SecretBox.newKeyText());
            }
            text = Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the secrets key file " + file, e);
        }
        return SecretBox.fromKeyText(text, file);
    }

    /** The box whose key is in {@code file}, which must exist. */
    public static SecretBox existingSecretBox(Path file) throws IOException {
        return SecretBox.fromKeyText(Files.readString(file, StandardCharsets.ISO_8859_1), file);
    }

    /**
     * Writes a new key file {@code file} holding {@code keyText}, mode 0600 from its first byte;
     * an existing file is an error.
     */
    public static void createKeyFile(Path file, String keyText) throws IOException {
        if (Files.exists(file)) {
            throw new FileAlreadyExistsException(file.toString());
        }
        create(file, keyText);
    }

    /**
     * Puts the key file {@code next} in the place of {@code key}, keeping the replaced one as
     * {@code old} (a hard link: the same 0600 file). The rename is atomic: {@code key} holds one
     * key or the other at every moment.
     */
    public static void replaceKeyFile(Path key, Path next, Path old) throws IOException {
        Files.deleteIfExists(old);
        Files.createLink(old, key);
        Files.move(next, key, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** The whole text of an operator's secret file, as UTF-8. */
    public static String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.UTF_8);
    }

    /**
     * Writes {@code text} under a temporary name created with mode 0600 (never readable by others,
     * not even for a moment), then links it into place; of two servers starting at once, one
     * file wins and both read it.
     */
    private static void create(Path file, String text) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path temp = dir.resolve("." + file.getFileName() + "." + UUID.randomUUID() + ".tmp");
        try (SeekableByteChannel out = Files.newByteChannel(temp, EnumSet.of(StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                "rw-------")))) {
            out.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)));
        }
        try {
            Files.createLink(file, temp);
        } catch (FileAlreadyExistsException e) {
            // Another server created it first: use that one.
        } finally {
            Files.deleteIfExists(temp);
        }
    }
}
