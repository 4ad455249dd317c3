// The .NET wrapper's example: a receipt from bytes and from a path with Chinese characters, an
// invoice PDF, the one-shot call, an empty image and a wrong key, against the sandbox.
// mono Example.exe SANDBOX_URL FIXTURES_DIR DIR_WITH_小票.png [--ascii-json] [--close-during-calls]
using System;
using System.IO;
using System.Text;
using System.Threading;
using Piaoju;

static class Example
{
    static bool ascii;

    static int Main(string[] args)
    {
        string url = args[0];
        string fixtures = args[1];
        string receiptPath = Path.Combine(args[2], "小票.png");
        ascii = Array.IndexOf(args, "--ascii-json", 3) >= 0;
        string config = "{\"juhe\": {\"key\": \"sandbox-juhe-key\", \"base_url\": \"" + url + "\"},"
            + " \"chinaums\": {\"app_id\": \"sandbox-app-id\", \"app_key\": \"sandbox-app-key\","
            + " \"base_url\": \"" + url + "\"}}";

        Console.WriteLine("piaoju " + PiaojuClient.Version);
        // The plugin's part: a client, a call, an exception.
        using (PiaojuClient client = new PiaojuClient(config, ascii))
        {
            string receipt = Seen(client.RecognizeShoppingReceipt(File.ReadAllBytes(Path.Combine(fixtures, "receipt.png"))));
            Console.WriteLine("receipt from bytes: " + Field(receipt, "shop_name") + " " + Field(receipt, "total_amount"));
            receipt = Seen(client.RecognizeShoppingReceiptFile(receiptPath));
            Console.WriteLine("receipt from 小票.png: " + Field(receipt, "shop_name") + " " + Field(receipt, "total_amount"));
            string invoice = Seen(client.RecognizeUsedCarInvoiceFile(Path.Combine(fixtures, "invoice.pdf")));
            Console.WriteLine("invoice from invoice.pdf: " + Field(invoice, "vin") + " " + Field(invoice, "total_price")
                + " " + Field(invoice, "buyer_name"));
            try
            {
                client.RecognizeShoppingReceipt(new byte[0]);
            }
            catch (PiaojuException e)
            {
                Console.WriteLine("empty image: " + e.Code + " " + e.Name);
            }
        }

        string request = "{\"config\": " + (ascii ? "{\"ascii_json\": true, " + config.Substring(1) : config)
            + ", \"operation\": \"shopping_receipt\", \"image_path\": \""
            + receiptPath.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"}";
        string envelope = Seen(PiaojuClient.Call(request));
        string result = Field(envelope, "result");
        Console.WriteLine("one-shot call: ok " + Field(envelope, "ok") + ", " + Field(result, "shop_name") + " "
            + Field(result, "total_amount"));

        try
        {
            // A configuration read from a file that Notepad saved with a byte-order mark.
            string saved = "\uFEFF" + config.Replace("sandbox-juhe-key", "wrong-key");
            using (PiaojuClient wrong = new PiaojuClient(saved, ascii))
            {
                wrong.RecognizeShoppingReceiptFile(receiptPath);
                Console.WriteLine("wrong key: no error");
            }
        }
        catch (PiaojuException e)
        {
            Seen(e.ErrorJson);
            Console.WriteLine("wrong key: " + e.Code + " " + e.Name + " " + Field(e.ErrorJson, "provider_message"));
        }

        if (Array.IndexOf(args, "--close-during-calls", 3) >= 0)
        {
            // A plugin unloaded while calls are running: they finish, the client goes after the last.
            PiaojuClient slow = new PiaojuClient(config.Replace(url + "\"", url + "/fault/delay=1000\""), ascii);
            string[] results = new string[4];
            Thread[] threads = new Thread[4];
            CountdownEvent started = new CountdownEvent(4);
            for (int i = 0; i < 4; i++)
            {
                int n = i;
                threads[i] = new Thread(() => { started.Signal(); results[n] = slow.RecognizeShoppingReceiptFile(receiptPath); });
                threads[i].Start();
            }
            started.Wait();
            Thread.Sleep(300);
            slow.Dispose();
            int answered = 0;
            foreach (Thread thread in threads)
            {
                thread.Join();
            }
            foreach (string receipt in results)
            {
                answered += receipt != null && Field(Seen(receipt), "total_amount") == "12.50" ? 1 : 0;
            }
            Console.WriteLine("closed during 4 calls: " + answered + " answered");
        }
        return 0;
    }

    // With --ascii-json, every JSON the library returns must be pure ASCII.
    static string Seen(string json)
    {
        foreach (char c in json)
        {
            if (ascii && c >= 0x80)
            {
                Console.WriteLine("NOT ASCII: " + json);
                Environment.Exit(1);
            }
        }
        return json;
    }

    // A top-level field of a JSON object, strings decoded: a stand-in for your JSON library
    // (System.Text.Json, Newtonsoft.Json) so that the example needs nothing but the wrapper.
    static string Field(string json, string key)
    {
        int depth = 0;
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (c == '{' || c == '[')
            {
                depth++;
            }
            else if (c == '}' || c == ']')
            {
                depth--;
            }
            else if (c == '"')
            {
                StringBuilder name = new StringBuilder();
                i = ReadString(json, i, name);
                int colon = i + 1;
                while (json[colon] == ' ')
                {
                    colon++;
                }
                if (depth == 1 && json[colon] == ':' && name.ToString() == key)
                {
                    int start = colon + 1;
                    while (json[start] == ' ')
                    {
                        start++;
                    }
                    if (json[start] != '"')
                    {
                        return json.Substring(start, End(json, start) - start).Trim();
                    }
                    StringBuilder value = new StringBuilder();
                    ReadString(json, start, value);
                    return value.ToString();
                }
            }
        }
        return null;
    }

    // Decodes the string starting at the quote at i into output; returns the index of its closing quote.
    static int ReadString(string json, int i, StringBuilder output)
    {
        for (i++; json[i] != '"'; i++)
        {
            char c = json[i];
            if (c == '\\')
            {
                c = json[++i];
                if (c == 'u')
                {
                    output.Append((char)Convert.ToInt32(json.Substring(i + 1, 4), 16));
                    i += 4;
                }
                else
                {
                    output.Append(c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c);
                }
            }
            else
            {
                output.Append(c);
            }
        }
        return i;
    }

    // The index just after the value starting at start.
    static int End(string json, int start)
    {
        int depth = 0;
        for (int i = start; i < json.Length; i++)
        {
            char c = json[i];
            if (c == '"')
            {
                i = ReadString(json, i, new StringBuilder());
            }
            else if (c == '{' || c == '[')
            {
                depth++;
            }
            else if (c == '}' || c == ']')
            {
                if (depth == 0)
                {
                    return i;
                }
                if (--depth == 0)
                {
                    return i + 1;
                }
            }
            else if (c == ',' && depth == 0)
            {
                return i;
            }
        }
        return json.Length;
    }
}
