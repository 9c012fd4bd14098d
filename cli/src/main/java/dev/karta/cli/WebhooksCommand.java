package dev.karta.cli;

import dev.karta.api.Printable;
import dev.karta.api.WebhookDelivery;
import dev.karta.api.WebhookEndpoint;
import dev.karta.api.WebhookEndpointSecret;
import java.util.List;
import java.util.function.ToIntFunction;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta webhooks list | create | delete | enable | disable | rotate-secret | test | deliveries | retry}:
 * the org's event webhook endpoints (admin).
 */
final class WebhooksCommand {
    private final Cli cli;

    WebhooksCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        WebhooksCommand webhooks = new WebhooksCommand(cli);
        return Commands.group("webhooks", List.of(
                        Commands.command("list", webhooks::list, "List endpoints (never their secrets)."),
                        webhooks.createCommand(),
                        webhooks.endpointCommand("delete", webhooks::delete,
                                "Delete an endpoint; nothing more is sent to it."),
                        webhooks.endpointCommand("enable", id -> webhooks.setEnabled(id, true),
                                "Enable an endpoint again; its pending deliveries are sent at once, with a new "
                                        + "back-off."),
                        webhooks.endpointCommand("disable", id -> webhooks.setEnabled(id, false),
                                "Disable an endpoint: nothing is sent to it, and events until it is enabled again are "
                                        + "not kept for it."),
                        webhooks.endpointCommand("rotate-secret", webhooks::rotateSecret,
                                "Give an endpoint a new signing secret and print it, once; every delivery from now on "
                                        + "uses it."),
                        webhooks.retryCommand(),
                        webhooks.endpointCommand("test", webhooks::test, "Send a ping event to an endpoint."),
                        webhooks.deliveriesCommand()),
                "List, create, delete and test the event webhook endpoints of your org (admin key).");
    }

    private static PositionalParamSpec endpointId() {
        return Commands.parameter("ID", "The endpoint's id (whe_…).");
    }

    /** A subcommand whose only argument is the endpoint's id. */
    private CommandSpec endpointCommand(String command, ToIntFunction<String> handler, String description) {
        PositionalParamSpec id = endpointId();
        return Commands.command(command, () -> handler.applyAsInt(id.getValue()), description).addPositional(id);
    }

    private CommandSpec createCommand() {
        PositionalParamSpec url = Commands.parameter("URL", "Where events are POSTed (https://).");
        OptionSpec events = OptionSpec.builder("--events").type(List.class).auxiliaryTypes(String.class)
                .splitRegex(",").defaultValue("*").paramLabel("TYPE")
                .description("Event types, comma-separated, or * for all (default).").build();
        OptionSpec description = Commands.option("--description").paramLabel("TEXT")
                .description("What the endpoint is for.").build();
        return Commands.command("create", () -> create(url.getValue(), events.getValue(), description.getValue()),
                "Create an endpoint and print its signing secret, once.")
                .addPositional(url).addOption(events).addOption(description);
    }

    private CommandSpec deliveriesCommand() {
        PositionalParamSpec id = endpointId();
        OptionSpec limit = OptionSpec.builder("--limit").type(int.class).paramLabel("N").defaultValue("20")
                .description("How many (at most 200).").build();
        return Commands.command("deliveries", () -> deliveries(id.getValue(), limit.getValue()),
                "List an endpoint's recent deliveries, newest first, with their attempts.")
                .addPositional(id).addOption(limit);
    }

    private CommandSpec retryCommand() {
        PositionalParamSpec id = endpointId();
        PositionalParamSpec delivery = PositionalParamSpec.builder().type(long.class).required(true)
                .paramLabel("DELIVERY").description("The delivery's id, from `karta webhooks deliveries ID`.").build();
        return Commands.command("retry", () -> retry(id.getValue(), delivery.getValue()),
                "Send a delivery again now (delivered, failed or pending), with a new back-off.")
                .addPositional(id).addPositional(delivery);
    }

    int list() {
        ApiClient.Reply<dev.karta.api.WebhookEndpointList> reply = cli.api().webhookEndpoints();
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        List<WebhookEndpoint> endpoints = reply.value().webhookEndpoints();
        output.table(List.of("ID", "URL", "EVENTS", "STATUS", "DESCRIPTION"), endpoints.stream()
                .map(e -> List.of(
                        e.id(),
                        Printable.line(e.url()),
                        String.join(",", e.events()),
                        e.enabled() ? "enabled" : "disabled" + (e.disabledReason() == null ? ""
                                : ": " + Printable.line(e.disabledReason())),
                        e.description() == null || e.description().isEmpty() ? Output.NONE
                                : Printable.line(e.description())))
                .toList());
        return 0;
    }

    int create(String url, List<String> events, String description) {
        ApiClient.Reply<WebhookEndpointSecret> reply = cli.api().createWebhookEndpoint(url, events, description);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        WebhookEndpointSecret created = reply.value();
        output.line("Created webhook endpoint " + created.webhookEndpoint().id() + " for "
                + Printable.line(created.webhookEndpoint().url()) + " (" + String.join(",",
                created.webhookEndpoint().events()) + "). Its signing secret:");
        output.line("");
        output.line("    " + created.secret());
        output.line("");
        cli.say("Copy it now: this is the only time the secret is shown. Deliveries carry Standard Webhooks "
                + "signatures made with it; see docs/webhooks.md to verify them.");
        return 0;
    }

    int delete(String id) {
        cli.api().deleteWebhookEndpoint(id);
        if (!cli.output().jsonMode()) {
            cli.output().line("Deleted webhook endpoint " + id);
        }
        return 0;
    }

    private int setEnabled(String id, boolean enabled) {
        ApiClient.Reply<WebhookEndpoint> reply = cli.api().setWebhookEndpointEnabled(id, enabled);
        if (cli.output().jsonMode()) {
            cli.output().json(reply.body());
        } else {
            cli.output().line((enabled ? "Enabled" : "Disabled") + " webhook endpoint " + id);
        }
        return 0;
    }

    int rotateSecret(String id) {
        ApiClient.Reply<WebhookEndpointSecret> reply = cli.api().rotateWebhookSecret(id);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        output.line("New signing secret of webhook endpoint " + id + ":");
        output.line("");
        output.line("    " + reply.value().secret());
        output.line("");
        cli.say("Copy it now: this is the only time the secret is shown.");
        return 0;
    }

    int retry(String id, long delivery) {
        ApiClient.Reply<WebhookDelivery> reply = cli.api().retryWebhookDelivery(id, delivery);
        if (cli.output().jsonMode()) {
            cli.output().json(reply.body());
        } else {
            cli.output().line("Queued delivery " + delivery + " of event " + reply.value().eventId() + " again");
        }
        return 0;
    }

    int test(String id) {
        ApiClient.Reply<WebhookDelivery> reply = cli.api().testWebhookEndpoint(id);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        output.line("Queued ping event " + reply.value().eventId() + " (delivery " + reply.value().id() + "); see "
                + "`karta webhooks deliveries " + id + "`");
        return 0;
    }

    int deliveries(String id, int limit) {
        ApiClient.Reply<dev.karta.api.WebhookDeliveryList> reply = cli.api().webhookDeliveries(id, limit);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        output.table(List.of("ID", "EVENT", "TYPE", "PROJECT", "STATUS", "ATTEMPTS", "LAST"), reply.value()
                .deliveries().stream()
                .map(d -> List.of(
                        Long.toString(d.id()),
                        d.eventId(),
                        d.eventType(),
                        Output.or(d.project()),
                        d.status(),
                        Integer.toString(d.attempts()),
                        d.lastError() != null ? Printable.line(d.lastError())
                                : d.lastStatusCode() != null ? "HTTP " + d.lastStatusCode() : Output.NONE))
                .toList());
        return 0;
    }
}
