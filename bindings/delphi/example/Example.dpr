{ The Delphi wrapper's example: a receipt from bytes and from a path with Chinese characters, an
  invoice PDF, the one-shot call, an empty image and a wrong key, against the sandbox.
  Example SANDBOX_URL FIXTURES_DIR DIR_WITH_小票.png [--ascii-json] [--close-during-calls] }
program Example;

{$IFDEF FPC}
  {$MODE DELPHI}{$H+}
  {$CODEPAGE UTF8}
{$ENDIF}
{$IFDEF MSWINDOWS}{$APPTYPE CONSOLE}{$ENDIF}

uses
  {$IFDEF FPC}{$IFDEF UNIX}cthreads, cwstring,{$ENDIF}{$ENDIF}
  Classes, SysUtils, Piaoju;

var
  Ascii: Boolean;

type
  { A call on its own thread. }
  TCall = class(TThread)
  public
    Client: TPiaojuClient;
    Path, Json: UnicodeString;
    Started: Boolean;
    procedure Execute; override;
  end;

procedure TCall.Execute;
begin
  Started := True;
  Json := Client.RecognizeShoppingReceiptFile(Path);
end;

function HasFlag(const Flag: string): Boolean;
var
  I: Integer;
begin
  Result := False;
  for I := 4 to ParamCount do
    if ParamStr(I) = Flag then
      Result := True;
end;

{ With --ascii-json, every JSON the library returns must be pure ASCII. }
function Seen(const Json: UnicodeString): UnicodeString;
var
  I: Integer;
begin
  for I := 1 to Length(Json) do
    if Ascii and (Ord(Json[I]) >= $80) then
    begin
      Writeln('NOT ASCII: ', Json);
      Halt(1);
    end;
  Result := Json;
end;

function ReadBytes(const FileName: string): TBytes;
var
  Stream: TFileStream;
begin
  Result := nil;
  Stream := TFileStream.Create(FileName, fmOpenRead or fmShareDenyWrite);
  try
    SetLength(Result, Stream.Size);
    if Length(Result) > 0 then
      Stream.ReadBuffer(Result[0], Length(Result));
  finally
    Stream.Free;
  end;
end;

{ A top-level field of a JSON object, strings decoded: a stand-in for your JSON library
  (System.JSON, fpjson) so that the example needs nothing but the wrapper. }
function ReadString(const Json: UnicodeString; I: Integer; var Output: UnicodeString): Integer;
var
  C: WideChar;
begin
  Inc(I);
  while Json[I] <> '"' do
  begin
    C := Json[I];
    if C = '\' then
    begin
      Inc(I);
      C := Json[I];
      case C of
        'u':
          begin
            C := WideChar(StrToInt('$' + string(Copy(Json, I + 1, 4))));
            Inc(I, 4);
          end;
        'n': C := #10;
        't': C := #9;
        'r': C := #13;
        'b': C := #8;
        'f': C := #12;
      end;
    end;
    Output := Output + C;
    Inc(I);
  end;
  Result := I;
end;

function EndOf(const Json: UnicodeString; Start: Integer): Integer;
var
  I, Depth: Integer;
  Ignored: UnicodeString;
begin
  Depth := 0;
  I := Start;
  while I <= Length(Json) do
  begin
    case Json[I] of
      '"':
        begin
          Ignored := '';
          I := ReadString(Json, I, Ignored);
        end;
      '{', '[': Inc(Depth);
      '}', ']':
        begin
          if Depth = 0 then
            Exit(I);
          Dec(Depth);
          if Depth = 0 then
            Exit(I + 1);
        end;
      ',':
        if Depth = 0 then
          Exit(I);
    end;
    Inc(I);
  end;
  Result := Length(Json) + 1;
end;

function Field(const Json, Key: UnicodeString): UnicodeString;
var
  I, Colon, Start, Depth: Integer;
  Name: UnicodeString;
begin
  Result := '';
  Depth := 0;
  I := 1;
  while I <= Length(Json) do
  begin
    case Json[I] of
      '{', '[': Inc(Depth);
      '}', ']': Dec(Depth);
      '"':
        begin
          Name := '';
          I := ReadString(Json, I, Name);
          Colon := I + 1;
          while Json[Colon] = ' ' do
            Inc(Colon);
          if (Depth = 1) and (Json[Colon] = ':') and (Name = Key) then
          begin
            Start := Colon + 1;
            while Json[Start] = ' ' do
              Inc(Start);
            if Json[Start] = '"' then
              ReadString(Json, Start, Result)
            else
              Result := Trim(Copy(Json, Start, EndOf(Json, Start) - Start));
            Exit;
          end;
        end;
    end;
    Inc(I);
  end;
end;

{ A JSON string's content: backslashes and quotes escaped (a Windows path has backslashes). }
function Escaped(const S: UnicodeString): UnicodeString;
var
  I: Integer;
begin
  Result := '';
  for I := 1 to Length(S) do
  begin
    if (S[I] = '\') or (S[I] = '"') then
      Result := Result + '\';
    Result := Result + S[I];
  end;
end;

function SandboxConfig(const Url, JuheKey: UnicodeString): UnicodeString;
begin
  Result := '{"juhe": {"key": "' + JuheKey + '", "base_url": "' + Url + '"},'
    + ' "chinaums": {"app_id": "sandbox-app-id", "app_key": "sandbox-app-key",'
    + ' "base_url": "' + Url + '"}}';
end;

var
  Url, Fixtures, ReceiptPath, Config, Receipt, Invoice, Request, Envelope, Inner: UnicodeString;
  Client, Wrong, Slow: TPiaojuClient;
  Calls: array[0..3] of TCall;
  I, Answered: Integer;
begin
  Url := UnicodeString(ParamStr(1));
  Fixtures := UnicodeString(ParamStr(2));
  ReceiptPath := UnicodeString(ParamStr(3)) + PathDelim + '小票.png';
  Ascii := HasFlag('--ascii-json');
  Config := SandboxConfig(Url, 'sandbox-juhe-key');

  Writeln('piaoju ', TPiaojuClient.Version);
  // The plugin's part: a client, a call, an exception.
  Client := TPiaojuClient.Create(Config, Ascii);
  try
    Receipt := Seen(Client.RecognizeShoppingReceipt(ReadBytes(string(Fixtures + PathDelim + 'receipt.png'))));
    Writeln('receipt from bytes: ', Field(Receipt, 'shop_name'), ' ', Field(Receipt, 'total_amount'));
    Receipt := Seen(Client.RecognizeShoppingReceiptFile(ReceiptPath));
    Writeln('receipt from 小票.png: ', Field(Receipt, 'shop_name'), ' ', Field(Receipt, 'total_amount'));
    Invoice := Seen(Client.RecognizeUsedCarInvoiceFile(Fixtures + PathDelim + 'invoice.pdf'));
    Writeln('invoice from invoice.pdf: ', Field(Invoice, 'vin'), ' ', Field(Invoice, 'total_price'), ' ',
      Field(Invoice, 'buyer_name'));
    try
      Client.RecognizeShoppingReceipt(nil);
    except
      on E: EPiaoju do
        Writeln('empty image: ', E.Code, ' ', E.Name);
    end;
  finally
    Client.Free;
  end;

  if Ascii then
    Request := '{"ascii_json": true, ' + Copy(Config, 2, MaxInt)
  else
    Request := Config;
  Request := '{"config": ' + Request + ', "operation": "shopping_receipt", "image_path": "'
    + Escaped(ReceiptPath) + '"}';
  Envelope := Seen(TPiaojuClient.Call(Request));
  Inner := Field(Envelope, 'result');
  Writeln('one-shot call: ok ', Field(Envelope, 'ok'), ', ', Field(Inner, 'shop_name'), ' ',
    Field(Inner, 'total_amount'));

  try
    // A configuration read from a file that Notepad saved with a byte-order mark.
    Wrong := TPiaojuClient.Create(WideChar($FEFF) + SandboxConfig(Url, 'wrong-key'), Ascii);
    try
      Wrong.RecognizeShoppingReceiptFile(ReceiptPath);
      Writeln('wrong key: no error');
    finally
      Wrong.Free;
    end;
  except
    on E: EPiaoju do
    begin
      Seen(E.ErrorJson);
      Writeln('wrong key: ', E.Code, ' ', E.Name, ' ', Field(E.ErrorJson, 'provider_message'));
    end;
  end;

  if HasFlag('--close-during-calls') then
  begin
    // A plugin unloaded while calls are running: they finish, the client goes after the last.
    Slow := TPiaojuClient.Create(SandboxConfig(Url + '/fault/delay=1000', 'sandbox-juhe-key'), Ascii);
    for I := 0 to 3 do
    begin
      Calls[I] := TCall.Create(True);
      Calls[I].Client := Slow;
      Calls[I].Path := ReceiptPath;
      Calls[I].Start;
    end;
    for I := 0 to 3 do
      while not Calls[I].Started do
        Sleep(10);
    Sleep(300);
    Slow.Free;
    Answered := 0;
    for I := 0 to 3 do
    begin
      Calls[I].WaitFor;
      if (Calls[I].FatalException = nil) and (Field(Seen(Calls[I].Json), 'total_amount') = '12.50') then
        Inc(Answered);
      Calls[I].Free;
    end;
    Writeln('closed during 4 calls: ', Answered, ' answered');
  end;
end.
