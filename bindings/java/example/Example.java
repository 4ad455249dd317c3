// The Java wrapper's example: a receipt from bytes and from a path with Chinese characters, an
// invoice PDF, the one-shot call, an empty image and a wrong key, against the sandbox.
// java -cp jna.jar:piaoju.jar:. Example SANDBOX_URL FIXTURES_DIR DIR_WITH_小票.png [--ascii-json] [--close-during-calls]
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import piaoju.PiaojuClient;
import piaoju.PiaojuException;

public final class Example {
    static boolean ascii;

    public static void main(String[] args) throws Exception {
        String url = args[0];
        Path fixtures = Path.of(args[1]);
        Path receiptPath = Path.of(args[2]).resolve("小票.png");
        List<String> flags = Arrays.asList(args).subList(3, args.length);
        ascii = flags.contains("--ascii-json");
        String config = "{\"juhe\": {\"key\": \"sandbox-juhe-key\", \"base_url\": \"" + url + "\"},"
                + " \"chinaums\": {\"app_id\": \"sandbox-app-id\", \"app_key\": \"sandbox-app-key\","
                + " \"base_url\": \"" + url + "\"}}";

        System.out.println("piaoju " + PiaojuClient.version());
        // The plugin's part: a client, a call, an exception.
        try (PiaojuClient client = new PiaojuClient(config, ascii)) {
            String receipt = seen(client.recognizeShoppingReceipt(Files.readAllBytes(fixtures.resolve("receipt.png"))));
            System.out.println("receipt from bytes: " + field(receipt, "shop_name") + " " + field(receipt, "total_amount"));
            receipt = seen(client.recognizeShoppingReceipt(receiptPath));
            System.out.println("receipt from 小票.png: " + field(receipt, "shop_name") + " " + field(receipt, "total_amount"));
            String invoice = seen(client.recognizeUsedCarInvoice(fixtures.resolve("invoice.pdf")));
            System.out.println("invoice from invoice.pdf: " + field(invoice, "vin") + " " + field(invoice, "total_price")
                    + " " + field(invoice, "buyer_name"));
            try {
                client.recognizeShoppingReceipt(new byte[0]);
            } catch (PiaojuException e) {
                System.out.println("empty image: " + e.getCode() + " " + e.getName());
            }
        }

        String request = "{\"config\": " + (ascii ? "{\"ascii_json\": true, " + config.substring(1) : config)
                + ", \"operation\": \"shopping_receipt\", \"image_path\": \""
                + receiptPath.toString().replace("\\", "\\\\").replace("\"", "\\\"") + "\"}";
        String envelope = seen(PiaojuClient.call(request));
        String result = field(envelope, "result");
        System.out.println("one-shot call: ok " + field(envelope, "ok") + ", " + field(result, "shop_name") + " "
                + field(result, "total_amount"));

        // A configuration read from a file that Notepad saved with a byte-order mark.
        String saved = "\uFEFF" + config.replace("sandbox-juhe-key", "wrong-key");
        try (PiaojuClient wrong = new PiaojuClient(saved, ascii)) {
            wrong.recognizeShoppingReceipt(receiptPath);
            System.out.println("wrong key: no error");
        } catch (PiaojuException e) {
            seen(e.getErrorJson());
            System.out.println("wrong key: " + e.getCode() + " " + e.getName() + " "
                    + field(e.getErrorJson(), "provider_message"));
        }

        if (flags.contains("--close-during-calls")) {
            // A plugin unloaded while calls are running: they finish, the client goes after the last.
            PiaojuClient slow = new PiaojuClient(config.replace(url, url + "/fault/delay=1000"), ascii);
            ExecutorService pool = Executors.newFixedThreadPool(4);
            CountDownLatch started = new CountDownLatch(4);
            List<Future<String>> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                calls.add(pool.submit(() -> {
                    started.countDown();
                    return slow.recognizeShoppingReceipt(receiptPath);
                }));
            }
            started.await();
            Thread.sleep(300);
            slow.close();
            int answered = 0;
            for (Future<String> call : calls) {
                answered += "12.50".equals(field(seen(call.get()), "total_amount")) ? 1 : 0;
            }
            pool.shutdown();
            System.out.println("closed during 4 calls: " + answered + " answered");
        }
    }

    /** With --ascii-json, every JSON the library returns must be pure ASCII. */
    static String seen(String json) {
        if (ascii && !json.chars().allMatch(c -> c < 0x80)) {
            System.out.println("NOT ASCII: " + json);
            System.exit(1);
        }
        return json;
    }

    // A top-level field of a JSON object, strings decoded: a stand-in for your JSON library
    // (Jackson, Gson, org.json) so that the example needs nothing but JNA.
    static String field(String json, String key) {
        int depth = 0;
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                depth--;
            } else if (c == '"') {
                StringBuilder name = new StringBuilder();
                i = string(json, i, name);
                int colon = i + 1;
                while (json.charAt(colon) == ' ') {
                    colon++;
                }
                if (depth == 1 && json.charAt(colon) == ':' && name.toString().equals(key)) {
                    int start = colon + 1;
                    while (json.charAt(start) == ' ') {
                        start++;
                    }
                    return json.charAt(start) == '"' ? decoded(json, start)
                            : json.substring(start, end(json, start)).trim();
                }
            }
        }
        return null;
    }

    static String decoded(String json, int quote) {
        StringBuilder out = new StringBuilder();
        string(json, quote, out);
        return out.toString();
    }

    /** Decodes the string starting at the quote at i into out; returns the index of its closing quote. */
    static int string(String json, int i, StringBuilder out) {
        for (i++; json.charAt(i) != '"'; i++) {
            char c = json.charAt(i);
            if (c == '\\') {
                c = json.charAt(++i);
                if (c == 'u') {
                    out.append((char) Integer.parseInt(json.substring(i + 1, i + 5), 16));
                    i += 4;
                } else {
                    out.append(c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c);
                }
            } else {
                out.append(c);
            }
        }
        return i;
    }

    /** The index just after the value starting at start. */
    static int end(String json, int start) {
        int depth = 0;
        for (int i = start; i < json.length(); i++) {
            char c = json.charAt(i);
            if (c == '"') {
                i = string(json, i, new StringBuilder());
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (depth == 0) {
                    return i;
                }
                if (--depth == 0) {
                    return i + 1;
                }
            } else if (c == ',' && depth == 0) {
                return i;
            }
        }
        return json.length();
    }
}
