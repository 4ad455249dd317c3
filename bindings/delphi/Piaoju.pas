(* Piaoju.pas: the Delphi / Free Pascal wrapper of libpiaoju (include/piaoju.h).
  Delphi 2009 or later (UnicodeString), Free Pascal 3.x in {$mode delphi}. See docs/hosts.md.

  Text crosses the boundary as UTF-8 bytes in both directions, converted here with UTF8Encode and
  UTF8ToString, never through AnsiString (the ANSI code page: GBK on a Chinese Windows); every
  string the library returns is copied, then freed with pj_string_free in a finally block.
  Free Pascal on Unix: put cwstring first in the program's uses clause, so that UnicodeString
  converts to the console's and the exception message's AnsiString. *)
unit Piaoju;

{$IFDEF FPC}
  {$MODE DELPHI}{$H+}
{$ENDIF}

{$IF Defined(MSWINDOWS) and (Defined(CPUX86) or Defined(CPU386))}
  {$DEFINE PIAOJU_STDCALL} // the 32-bit Windows DLL exports stdcall functions (docs/hosts.md)
{$IFEND}

interface

uses
  SysUtils;

type
  { A failed piaoju call: the status code of the error catalogue (docs/errors.md), its stable
    name and the library's error JSON (code, name, message, provider_code, retryable,
    possibly_billed, ...). }
  EPiaoju = class(Exception)
  private
    FCode: Cardinal;
    FName: UnicodeString;
    FErrorJson: UnicodeString;
  public
    constructor CreateStatus(ACode: Cardinal; const AErrorJson: UnicodeString);
    property Code: Cardinal read FCode;             // 400 for a wrong Juhe key, 301 for a timeout
    property Name: UnicodeString read FName;        // 'invalid_key', 'timeout', ...
    property ErrorJson: UnicodeString read FErrorJson;
  end;

  { A piaoju client: configuration, connections and token cache. Thread-safe: share one client
    between threads; free it when the plugin unloads (calls still running finish normally).
    Every call blocks until the service answers or timeout_ms (default 15 s) has passed: never
    call it in the main (VCL) thread; use a TThread or a task. Results are the library's JSON
    text; a failure raises EPiaoju. }
  TPiaojuClient = class
  private
    FHandle: Pointer;
  public
    (* A client for a configuration JSON (docs/configuration.md); '{}' is empty, the environment
      is not read. AsciiJson: every JSON the library returns is pure ASCII (\uXXXX escapes), for
      JSON that travels on through an AnsiString or a GBK file; this client's own results never
      need it. Raises EPiaoju 101 invalid_config for bad JSON, an unknown key, a wrong type. *)
    constructor Create(const ConfigJson: UnicodeString; AsciiJson: Boolean = False);
    { A client configured by the PIAOJU_* environment variables. }
    constructor CreateFromEnvironment;
    destructor Destroy; override;
    { A shopping receipt (Juhe) from the file's bytes (jpg, png or bmp) or from a file. }
    function RecognizeShoppingReceipt(const Image: TBytes): UnicodeString;
    function RecognizeShoppingReceiptFile(const Path: UnicodeString): UnicodeString;
    { A used-car sales invoice (ChinaUMS) from the file's bytes (png, jpg or pdf) or from a file. }
    function RecognizeUsedCarInvoice(const Image: TBytes): UnicodeString;
    function RecognizeUsedCarInvoiceFile(const Path: UnicodeString): UnicodeString;
    (* One call, JSON in and JSON out (pj_call): the envelope {"ok": true, "result": ...} or
      {"ok": false, "error": ...}; never raises for a failed recognition. *)
    class function Call(const RequestJson: UnicodeString): UnicodeString;
    class function Version: UnicodeString;
    class function StatusName(Status: Cardinal): UnicodeString;
  end;

implementation

const
{$IFDEF MSWINDOWS}
  PiaojuLib = 'piaoju.dll';
{$ELSE}
  {$IFDEF FPC}
  PiaojuLib = 'piaoju';          // linked as -lpiaoju: libpiaoju.so
  {$ELSE}
  PiaojuLib = 'libpiaoju.so';
  {$ENDIF}
{$ENDIF}

function pj_client_new(ConfigJson: PAnsiChar; out Client: Pointer; out ErrorJson: PAnsiChar): Cardinal;
  {$IFDEF PIAOJU_STDCALL}stdcall{$ELSE}cdecl{$ENDIF}; external PiaojuLib;
procedure pj_client_free(Client: Pointer);
  {$IFDEF PIAOJU_STDCALL}stdcall{$ELSE}cdecl{$ENDIF}; external PiaojuLib;
function pj_recognize_shopping_receipt(Client: Pointer; Image: PByte; ImageLen: NativeUInt; out Json: PAnsiChar): Cardinal;
  {$IFDEF PIAOJU_STDCALL}stdcall{$ELSE}cdecl{$ENDIF}; external PiaojuLib;
function pj_recognize_shopping_receipt_file(Client: Pointer; Path: PAnsiChar; out Json: PAnsiChar): Cardinal;
  {$IFDEF PIAOJU_STDCALL}stdcall{$ELSE}cdecl{$ENDIF}; external PiaojuLib;
function pj_recognize_used_car_invoice(Client: Pointer; Image: PByte; ImageLen: NativeUInt; out Json: PAnsiChar): Cardinal;
  {$IFDEF PIAOJU_STDCALL}stdcall{$ELSE}cdecl{$ENDIF}; external PiaojuLib;
function pj_recognize_used_car_invoice_file(Client: Pointer; Path: PAnsiChar; out Json: PAnsiChar): Cardinal;
  {$IFDEF PIAOJU_STDCALL}stdcall{$ELSE}cdecl{$ENDIF}; external PiaojuLib;
function pj_call(RequestJson: PAnsiChar): PAnsiChar;
  {$IFDEF PIAOJU_STDCALL}stdcall{$ELSE}cdecl{$ENDIF}; external PiaojuLib;
procedure pj_string_free(S: PAnsiChar);
  {$IFDEF PIAOJU_STDCALL}stdcall{$ELSE}cdecl{$ENDIF}; external PiaojuLib;
function pj_version: PAnsiChar;
  {$IFDEF PIAOJU_STDCALL}stdcall{$ELSE}cdecl{$ENDIF}; external PiaojuLib;
function pj_status_name(Status: Cardinal): PAnsiChar;
  {$IFDEF PIAOJU_STDCALL}stdcall{$ELSE}cdecl{$ENDIF}; external PiaojuLib;

{ A NUL-terminated UTF-8 string from the library as a UnicodeString: its bytes are copied as they
  are (assigning a PAnsiChar to a string would read them in the ANSI code page). }
function FromUtf8(P: PAnsiChar): UnicodeString;
var
  Len: Integer;
  Bytes: UTF8String;
begin
  Result := '';
  if P = nil then
    Exit;
  Bytes := '';
  Len := 0;
  while P[Len] <> #0 do
    Inc(Len);
  SetLength(Bytes, Len);
  if Len > 0 then
    Move(P^, Bytes[1], Len);
  Result := UTF8ToString(Bytes);
end;

{ Copies a string the library returned, then frees it, whatever happens. }
function Take(P: PAnsiChar): UnicodeString;
begin
  try
    Result := FromUtf8(P);
  finally
    pj_string_free(P);
  end;
end;

{ UTF-8 bytes (a UTF8String is NUL-terminated); a #0 inside would cut the text short. }
function ToUtf8(const S: UnicodeString): UTF8String;
begin
  if Pos(WideChar(#0), S) > 0 then
    raise EArgumentException.Create('piaoju: text contains a NUL character');
  Result := UTF8Encode(S);
end;

{ A text decoded without BOM detection keeps the byte-order mark as U+FEFF. }
function WithoutBom(const Json: UnicodeString): UnicodeString;
begin
  if (Length(Json) > 0) and (Json[1] = WideChar($FEFF)) then
    Result := Copy(Json, 2, MaxInt)
  else
    Result := Json;
end;

{ Adds "ascii_json": true to a configuration object; anything else is left for the library to refuse. }
function WithAsciiJson(const Config: UnicodeString): UnicodeString;
var
  Open, Next: Integer;
  Separator: UnicodeString;
begin
  Result := Config;
  Open := 1;
  while (Open <= Length(Config)) and CharInSet(Config[Open], [' ', #9, #10, #13]) do
    Inc(Open);
  if (Open > Length(Config)) or (Config[Open] <> '{') then
    Exit;
  Next := Open + 1;
  while (Next <= Length(Config)) and CharInSet(Config[Next], [' ', #9, #10, #13]) do
    Inc(Next);
  if (Next <= Length(Config)) and (Config[Next] = '}') then
    Separator := ''
  else
    Separator := ', ';
  Result := Copy(Config, 1, Open) + '"ascii_json": true' + Separator + Copy(Config, Open + 1, MaxInt);
end;

{ The library refuses a NULL image; an empty dynamic array is nil. }
function ImagePointer(const Image: TBytes): PByte;
const
  Empty: Byte = 0;
begin
  if Length(Image) = 0 then
    Result := @Empty
  else
    Result := @Image[0];
end;

function Finish(Status: Cardinal; Json: PAnsiChar): UnicodeString;
begin
  Result := Take(Json);
  if Status <> 0 then
    raise EPiaoju.CreateStatus(Status, Result);
end;

{ EPiaoju }

constructor EPiaoju.CreateStatus(ACode: Cardinal; const AErrorJson: UnicodeString);
begin
  FCode := ACode;
  FName := TPiaojuClient.StatusName(ACode);
  FErrorJson := AErrorJson;
  // Exception.Message is a string: an AnsiString in FPC's Delphi mode (cwstring converts it).
  inherited Create(string(FName + ' (' + UnicodeString(IntToStr(ACode)) + '): ' + AErrorJson));
end;

{ TPiaojuClient }

constructor TPiaojuClient.Create(const ConfigJson: UnicodeString; AsciiJson: Boolean);
var
  Config: UTF8String;
  Error: PAnsiChar;
  Status: Cardinal;
  ErrorJson: UnicodeString;
begin
  inherited Create;
  if AsciiJson then
    Config := ToUtf8(WithAsciiJson(WithoutBom(ConfigJson)))
  else
    Config := ToUtf8(WithoutBom(ConfigJson));
  Error := nil;
  Status := pj_client_new(PAnsiChar(Config), FHandle, Error);
  ErrorJson := Take(Error);
  if Status <> 0 then
    raise EPiaoju.CreateStatus(Status, ErrorJson);
end;

constructor TPiaojuClient.CreateFromEnvironment;
var
  Error: PAnsiChar;
  Status: Cardinal;
  ErrorJson: UnicodeString;
begin
  inherited Create;
  Error := nil;
  Status := pj_client_new(nil, FHandle, Error);
  ErrorJson := Take(Error);
  if Status <> 0 then
    raise EPiaoju.CreateStatus(Status, ErrorJson);
end;

destructor TPiaojuClient.Destroy;
begin
  pj_client_free(FHandle); // nil (a failed constructor) is ignored
  FHandle := nil;
  inherited Destroy;
end;

function TPiaojuClient.RecognizeShoppingReceipt(const Image: TBytes): UnicodeString;
var
  Json: PAnsiChar;
  Status: Cardinal;
begin
  Json := nil;
  Status := pj_recognize_shopping_receipt(FHandle, ImagePointer(Image), Length(Image), Json);
  Result := Finish(Status, Json);
end;

function TPiaojuClient.RecognizeShoppingReceiptFile(const Path: UnicodeString): UnicodeString;
var
  Json: PAnsiChar;
  Status: Cardinal;
begin
  Json := nil;
  Status := pj_recognize_shopping_receipt_file(FHandle, PAnsiChar(ToUtf8(Path)), Json);
  Result := Finish(Status, Json);
end;

function TPiaojuClient.RecognizeUsedCarInvoice(const Image: TBytes): UnicodeString;
var
  Json: PAnsiChar;
  Status: Cardinal;
begin
  Json := nil;
  Status := pj_recognize_used_car_invoice(FHandle, ImagePointer(Image), Length(Image), Json);
  Result := Finish(Status, Json);
end;

function TPiaojuClient.RecognizeUsedCarInvoiceFile(const Path: UnicodeString): UnicodeString;
var
  Json: PAnsiChar;
  Status: Cardinal;
begin
  Json := nil;
  Status := pj_recognize_used_car_invoice_file(FHandle, PAnsiChar(ToUtf8(Path)), Json);
  Result := Finish(Status, Json);
end;

class function TPiaojuClient.Call(const RequestJson: UnicodeString): UnicodeString;
begin
  Result := Take(pj_call(PAnsiChar(ToUtf8(WithoutBom(RequestJson)))));
end;

class function TPiaojuClient.Version: UnicodeString;
begin
  Result := FromUtf8(pj_version); // static: never freed
end;

class function TPiaojuClient.StatusName(Status: Cardinal): UnicodeString;
begin
  Result := FromUtf8(pj_status_name(Status)); // static: never freed
end;

end.
