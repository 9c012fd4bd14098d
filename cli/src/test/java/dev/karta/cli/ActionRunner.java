package dev.karta.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the steps of the repository's composite {@code action.yml} as a GitHub runner would, as far
 * as this action needs: inputs with their defaults, {@code ${{ inputs.* }}} and {@code github.*}
 * expressions in step {@code env} and input defaults, each {@code run:} block in
 * {@code bash --noprofile --norc -eo pipefail}, and {@code $GITHUB_PATH} / {@code $GITHUB_ENV}
 * carried to the later steps. Stops at the first failing step, as a runner does. Anything else in
 * the file ({@code uses:}, {@code if:}, another shell, another expression) fails the test, so that a
 * change to the action cannot pass here untried.
 */
final class ActionRunner {
    private static final Pattern EXPRESSION = Pattern.compile("\\$\\{\\{\\s*([^}]*?)\\s*}}");

    private final Path actionDir;
    private final Path workDir;
    private final Processes processes;
    private final Map<String, String> inputs = new HashMap<>();
    private final Map<String, String> github = new HashMap<>();

    /** Runs {@code actionDir/action.yml} with its runner folders under {@code workDir}. */
    ActionRunner(Path actionDir, Path workDir, Processes processes) {
        this.actionDir = actionDir;
        this.workDir = workDir;
        this.processes = processes;
        github.put("action_path", actionDir.toString());
    }

    ActionRunner input(String name, String value) {
        inputs.put(name, value);
        return this;
    }

    ActionRunner github(String name, String value) {
        github.put(name, value);
        return this;
    }

    /** Every step's outcome, up to and including the first that failed. */
    record Outcome(List<Processes.Result> steps) {
        boolean succeeded() {
            return steps.stream().allMatch(step -> step.exitCode() == 0);
        }

        Processes.Result last() {
            return steps.get(steps.size() - 1);
        }

        /** What the job log would show: every step's output and errors, in order. */
        String log() {
            StringBuilder log = new StringBuilder();
            steps.forEach(step -> log.append(step.stdout()).append(step.stderr()));
            return log.toString();
        }

        @Override
        public String toString() {
            return steps.toString();
        }
    }

    Outcome run() throws IOException {
        JsonNode action = new YAMLMapper().readTree(actionDir.resolve("action.yml").toFile());
        if (!"composite".equals(action.path("runs").path("using").asText())) {
            throw new AssertionError("not a composite action");
        }
        Map<String, String> resolvedInputs = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = action.path("inputs").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> input = it.next();
            String given = inputs.get(input.getKey());
            if (given == null && input.getValue().path("required").asBoolean()) {
                throw new AssertionError("the action requires the input " + input.getKey());
            }
            resolvedInputs.put(input.getKey(), given != null ? given : evaluate(input.getValue().path("default").asText(""), Map.of()));
        }
        inputs.keySet().forEach(name -> {
            if (!resolvedInputs.containsKey(name)) {
                throw new AssertionError("action.yml has no input " + name);
            }
        });

        Path runnerTemp = Files.createDirectories(workDir.resolve("runner-temp"));
        Path githubEnv = Files.createFile(workDir.resolve("github-env"));
        Path githubPath = Files.createFile(workDir.resolve("github-path"));
        List<Processes.Result> results = new ArrayList<>();
        int index = 0;
        for (JsonNode step : action.path("runs").path("steps")) {
            for (Iterator<String> names = step.fieldNames(); names.hasNext(); ) {
                String field = names.next();
                if (!List.of("name", "shell", "env", "run").contains(field)) {
                    throw new AssertionError("this runner does not do '" + field + "' (step " + step.path("name") + ")");
                }
            }
            if (!"bash".equals(step.path("shell").asText())) {
                throw new AssertionError("steps run in bash here, not " + step.path("shell"));
            }
            Map<String, String> env = new HashMap<>();
            env.put("RUNNER_TEMP", runnerTemp.toString());
            env.put("GITHUB_ENV", githubEnv.toString());
            env.put("GITHUB_PATH", githubPath.toString());
            env.put("GITHUB_ACTION_PATH", actionDir.toString());
            if (github.containsKey("sha")) {
                env.put("GITHUB_SHA", github.get("sha"));
            }
            env.putAll(readEnvFile(githubEnv));
            List<String> paths = new ArrayList<>(Files.readAllLines(githubPath));
            java.util.Collections.reverse(paths);
            paths.add(processes.variable("PATH"));
            env.put("PATH", String.join(":", paths.stream().filter(p -> p != null && !p.isBlank()).toList()));
            for (Iterator<Map.Entry<String, JsonNode>> it = step.path("env").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> variable = it.next();
                env.put(variable.getKey(), evaluate(variable.getValue().asText(), resolvedInputs));
            }
            if (EXPRESSION.matcher(step.path("run").asText()).find()) {
                throw new AssertionError("an expression in a run: block is a script injection; pass it through env");
            }
            Path script = workDir.resolve("step-" + index++ + ".sh");
            Files.writeString(script, step.path("run").asText());
            Processes.Result result = processes.copy().env(env).run(workDir, Duration.ofMinutes(5),
                    List.of("bash", "--noprofile", "--norc", "-eo", "pipefail", script.toString()));
            results.add(result);
            if (result.exitCode() != 0) {
                break;
            }
        }
        return new Outcome(results);
    }

    private String evaluate(String text, Map<String, String> resolvedInputs) {
        Matcher matcher = EXPRESSION.matcher(text);
        StringBuilder out = new StringBuilder();
        while (matcher.find()) {
            String expression = matcher.group(1);
            String value;
            if (expression.startsWith("inputs.") && resolvedInputs.containsKey(expression.substring(7))) {
                value = resolvedInputs.get(expression.substring(7));
            } else if (expression.startsWith("github.") && github.containsKey(expression.substring(7))) {
                value = github.get(expression.substring(7));
            } else {
                throw new AssertionError("this runner cannot evaluate ${{ " + expression + " }}");
            }
            matcher.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        matcher.appendTail(out);
        return out.toString();
    }

    /** {@code NAME=value} lines and {@code NAME<<DELIMITER} blocks, as GitHub reads $GITHUB_ENV. */
    private static Map<String, String> readEnvFile(Path file) {
        try {
            Map<String, String> env = new HashMap<>();
            List<String> lines = Files.readAllLines(file);
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i);
                int heredoc = line.indexOf("<<");
                int equals = line.indexOf('=');
                if (heredoc > 0 && (equals < 0 || heredoc < equals)) {
                    String delimiter = line.substring(heredoc + 2);
                    StringBuilder value = new StringBuilder();
                    for (i++; i < lines.size() && !lines.get(i).equals(delimiter); i++) {
                        value.append(value.length() > 0 ? "\n" : "").append(lines.get(i));
                    }
                    env.put(line.substring(0, heredoc), value.toString());
                } else if (equals > 0) {
                    env.put(line.substring(0, equals), line.substring(equals + 1));
                }
            }
            return env;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
