package dev.karta.server.testkit;

import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.ArgumentsProvider;
import org.junit.jupiter.params.support.ParameterDeclarations;

/**
 * Runs a parameterized test class (or method) once on SQLite and once on PostgreSQL, giving it a
 * {@link TestDatabase}:
 *
 * <pre>{@code
 * @ParameterizedClass(name = "on {0}")
 * @ArgumentsSource(EachDatabase.class)
 * class ReleaseFlowTest {
 *     @Parameter
 *     TestDatabase database;
 * }
 * }</pre>
 *
 * A class whose tests share one server starts it once per database; the {@code @Parameter} field is
 * what makes JUnit hand the database to the class-wide set-up:
 *
 * <pre>{@code
 *     @TempDir
 *     static Path temp;
 *
 *     @BeforeParameterizedClassInvocation
 *     static void start(TestDatabase database) {
 *         server = database.startUnder(temp);
 *     }
 * }</pre>
 *
 * The PostgreSQL server is the one {@link PostgresExtension} starts for the run.
 */
public final class EachDatabase implements ArgumentsProvider {
    @Override
    public Stream<? extends Arguments> provideArguments(ParameterDeclarations parameters, ExtensionContext context) {
        return Stream.of(Arguments.of(TestDatabase.sqlite()),
                Arguments.of(TestDatabase.postgres(() -> PostgresExtension.freshDatabase(context))));
    }
}
