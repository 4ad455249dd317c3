// Piaoju.cs: the .NET wrapper of libpiaoju (include/piaoju.h). One file, no dependencies;
// .NET Framework 4.x, .NET 6+ and Mono. See docs/hosts.md.
//
// Text crosses the boundary as UTF-8 bytes in both directions, encoded and decoded here, never
// by the marshaller (CharSet.Ansi would use the ANSI code page, GBK on a Chinese Windows), and
// every string the library returns is copied, then freed with pj_string_free.
using System;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Piaoju
{
    /// <summary>
    /// A piaoju client: configuration, connections and token cache. Thread-safe: share one client
    /// between threads; dispose it when the plugin unloads (calls still running finish first).
    /// Every call blocks until the service answers or <c>timeout_ms</c> (default 15 s) has passed:
    /// never call it on a UI thread; use <c>Task.Run</c> or a <c>BackgroundWorker</c>.
    /// Results are the library's JSON text; a failure is a <see cref="PiaojuException"/>.
    /// </summary>
    public sealed class PiaojuClient : IDisposable
    {
        readonly ClientHandle handle;

        /// <summary>A client for a configuration JSON (docs/configuration.md); "{}" is empty,
        /// the environment is not read.</summary>
        /// <exception cref="PiaojuException">101 invalid_config: bad JSON, an unknown key, a wrong type.</exception>
        public PiaojuClient(string configJson) : this(configJson, false)
        {
        }

        /// <summary>As <see cref="PiaojuClient(string)"/>; with <paramref name="asciiJson"/> every
        /// JSON the library returns is pure ASCII (\uXXXX escapes), for JSON that travels on through
        /// a code-page conversion (an ANSI control, a GBK file). This client's own results never need it.</summary>
        public PiaojuClient(string configJson, bool asciiJson)
            : this(Native.Utf8z(Native.WithAsciiJson(Native.WithoutBom(Native.NotNull(configJson, "configJson")), asciiJson)))
        {
        }

        PiaojuClient(byte[] configJson)
        {
            ClientHandle client;
            IntPtr error;
            uint status = Native.pj_client_new(configJson, out client, out error);
            string errorJson = Native.Take(error);
            if (status != 0)
            {
                client.Dispose();
                throw new PiaojuException(status, errorJson);
            }
            handle = client;
        }

        /// <summary>A client configured by the PIAOJU_* environment variables.</summary>
        public static PiaojuClient FromEnvironment()
        {
            return new PiaojuClient((byte[])null);
        }

        /// <summary>Recognizes a shopping receipt (Juhe) from the file's bytes (jpg, png or bmp).</summary>
        public string RecognizeShoppingReceipt(byte[] image)
        {
            IntPtr json;
            uint status = Native.pj_recognize_shopping_receipt(handle, Native.NotNull(image, "image"), (UIntPtr)image.Length, out json);
            return Result(status, json);
        }

        /// <summary>Recognizes a shopping receipt (Juhe) from an image file.</summary>
        public string RecognizeShoppingReceiptFile(string path)
        {
            IntPtr json;
            uint status = Native.pj_recognize_shopping_receipt_file(handle, Native.Utf8z(Native.NotNull(path, "path")), out json);
            return Result(status, json);
        }

        /// <summary>Recognizes a used-car sales invoice (ChinaUMS) from the file's bytes (png, jpg or pdf).</summary>
        public string RecognizeUsedCarInvoice(byte[] image)
        {
            IntPtr json;
            uint status = Native.pj_recognize_used_car_invoice(handle, Native.NotNull(image, "image"), (UIntPtr)image.Length, out json);
            return Result(status, json);
        }

        /// <summary>Recognizes a used-car sales invoice (ChinaUMS) from a file (png, jpg or pdf).</summary>
        public string RecognizeUsedCarInvoiceFile(string path)
        {
            IntPtr json;
            uint status = Native.pj_recognize_used_car_invoice_file(handle, Native.Utf8z(Native.NotNull(path, "path")), out json);
            return Result(status, json);
        }

        /// <summary>One call, JSON in and JSON out (pj_call): returns the envelope
        /// {"ok": true, "result": …} or {"ok": false, "error": …}; never throws for a failed recognition.</summary>
        public static string Call(string requestJson)
        {
            return Native.Take(Native.pj_call(Native.Utf8z(Native.WithoutBom(Native.NotNull(requestJson, "requestJson")))));
        }

        /// <summary>The library's version, "MAJOR.MINOR.PATCH".</summary>
        public static string Version
        {
            get { return Native.Read(Native.pj_version()); }
        }

        /// <summary>The stable name of a status code ("invalid_key"), "unknown" for others.</summary>
        public static string StatusName(uint status)
        {
            return Native.Read(Native.pj_status_name(status));
        }

        /// <summary>Frees the client once no call is using it. Idempotent; a later call throws
        /// ObjectDisposedException.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        static string Result(uint status, IntPtr json)
        {
            string text = Native.Take(json);
            if (status != 0)
            {
                throw new PiaojuException(status, text);
            }
            return text;
        }
    }

    /// <summary>A failed piaoju call: the status code of the error catalogue (docs/errors.md),
    /// its stable name and the library's error JSON (code, name, message, provider_code, retryable,
    /// possibly_billed, …).</summary>
    public sealed class PiaojuException : Exception
    {
        readonly int code;
        readonly string name;
        readonly string errorJson;

        internal PiaojuException(uint code, string errorJson)
            : this((int)code, PiaojuClient.StatusName(code), errorJson)
        {
        }

        PiaojuException(int code, string name, string errorJson)
            : base(name + " (" + code + "): " + errorJson)
        {
            this.code = code;
            this.name = name;
            this.errorJson = errorJson;
        }

        /// <summary>The status code: 400 for a wrong Juhe key, 301 for a timeout, …</summary>
        public int Code { get { return code; } }

        /// <summary>The stable name of the code: "invalid_key", "timeout", …</summary>
        public string Name { get { return name; } }

        /// <summary>The error as the library's JSON object (never null).</summary>
        public string ErrorJson { get { return errorJson; } }
    }

    /// <summary>The client pointer. The marshaller holds a reference for the length of every call,
    /// so <c>ReleaseHandle</c> (pj_client_free) runs only once no call uses the client.</summary>
    sealed class ClientHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public ClientHandle() : base(true)
        {
        }

        protected override bool ReleaseHandle()
        {
            Native.pj_client_free(handle);
            return true;
        }
    }

    static class Native
    {
        // "piaoju": piaoju.dll on Windows, libpiaoju.so on Linux, libpiaoju.dylib on macOS.
        const string Lib = "piaoju";
#if PIAOJU_STDCALL
        // The 32-bit Windows DLL exports stdcall functions (docs/hosts.md).
        const CallingConvention Convention = CallingConvention.StdCall;
#else
        const CallingConvention Convention = CallingConvention.Cdecl;
#endif

        [DllImport(Lib, CallingConvention = Convention, ExactSpelling = true)]
        internal static extern uint pj_client_new(byte[] configJson, out ClientHandle client, out IntPtr errorJson);

        [DllImport(Lib, CallingConvention = Convention, ExactSpelling = true)]
        internal static extern void pj_client_free(IntPtr client);

        [DllImport(Lib, CallingConvention = Convention, ExactSpelling = true)]
        internal static extern uint pj_recognize_shopping_receipt(ClientHandle client, byte[] image, UIntPtr imageLen, out IntPtr json);

        [DllImport(Lib, CallingConvention = Convention, ExactSpelling = true)]
        internal static extern uint pj_recognize_shopping_receipt_file(ClientHandle client, byte[] path, out IntPtr json);

        [DllImport(Lib, CallingConvention = Convention, ExactSpelling = true)]
        internal static extern uint pj_recognize_used_car_invoice(ClientHandle client, byte[] image, UIntPtr imageLen, out IntPtr json);

        [DllImport(Lib, CallingConvention = Convention, ExactSpelling = true)]
        internal static extern uint pj_recognize_used_car_invoice_file(ClientHandle client, byte[] path, out IntPtr json);

        [DllImport(Lib, CallingConvention = Convention, ExactSpelling = true)]
        internal static extern IntPtr pj_call(byte[] requestJson);

        [DllImport(Lib, CallingConvention = Convention, ExactSpelling = true)]
        internal static extern void pj_string_free(IntPtr s);

        [DllImport(Lib, CallingConvention = Convention, ExactSpelling = true)]
        internal static extern IntPtr pj_version();

        [DllImport(Lib, CallingConvention = Convention, ExactSpelling = true)]
        internal static extern IntPtr pj_status_name(uint status);

        /// <summary>Copies a string the library returned, then frees it, whatever happens.</summary>
        internal static string Take(IntPtr p)
        {
            if (p == IntPtr.Zero)
            {
                return null;
            }
            try
            {
                return Read(p);
            }
            finally
            {
                pj_string_free(p);
            }
        }

        /// <summary>Decodes a NUL-terminated UTF-8 string (Marshal.PtrToStringUTF8 is missing from .NET Framework).</summary>
        internal static string Read(IntPtr p)
        {
            int length = 0;
            while (Marshal.ReadByte(p, length) != 0)
            {
                length++;
            }
            byte[] bytes = new byte[length];
            Marshal.Copy(p, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>UTF-8 bytes with the terminating NUL; a NUL inside would cut the text short, so it is refused.</summary>
        internal static byte[] Utf8z(string s)
        {
            if (s.IndexOf('\0') >= 0)
            {
                throw new ArgumentException("piaoju: text contains a NUL character");
            }
            int length = Encoding.UTF8.GetByteCount(s);
            byte[] bytes = new byte[length + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        internal static T NotNull<T>(T value, string name) where T : class
        {
            if (value == null)
            {
                throw new ArgumentNullException(name);
            }
            return value;
        }

        /// <summary>A text decoded without BOM detection keeps the byte-order mark as U+FEFF.</summary>
        internal static string WithoutBom(string json)
        {
            return json.Length > 0 && json[0] == '\uFEFF' ? json.Substring(1) : json;
        }

        /// <summary>Adds "ascii_json": true to a configuration object; anything else is left for the library to refuse.</summary>
        internal static string WithAsciiJson(string config, bool asciiJson)
        {
            int open = SkipSpace(config, 0);
            if (!asciiJson || open >= config.Length || config[open] != '{')
            {
                return config;
            }
            int next = SkipSpace(config, open + 1);
            bool empty = next < config.Length && config[next] == '}';
            return config.Substring(0, open + 1) + "\"ascii_json\": true" + (empty ? "" : ", ") + config.Substring(open + 1);
        }

        static int SkipSpace(string s, int i)
        {
            while (i < s.Length && " \t\r\n".IndexOf(s[i]) >= 0)
            {
                i++;
            }
            return i;
        }
    }
}
