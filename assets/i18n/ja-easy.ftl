# やさしい にほんご: みじかい ことば、ひらがな、ことば の あいだ に スペース。
app-title = まどぐち くやくしょ

state-idle = まっています
state-requesting = つないでいます…
state-handshaking = なか に はいっています…
state-connected = つながっています
state-reconnecting = きれました。{ $seconds } びょう で もう いちど つなぎます ({ $reason })
state-failed = つながりません: { $why }

ticket-none = ばんごうふだ は ありません。まどぐち の まえ で E キー を おして ください
ticket-waiting = { $label }  { $position }ばんめ  まつ じかん { $wait }
wait-minutes = だいたい { $minutes }ふん
wait-unknown = わかりません
ticket-called = { $label }  よばれました: { $counter } の まどぐち ({ $department }) へ
ticket-serving = { $label }  いま はなしています
banner-called = { $label } の ひと、{ $room } の { $counter } の まどぐち ({ $department }) へ きて ください

staff-mark = しょくいん
sign-open = { $counter } あいています: { $clerk }
sign-closed = { $counter } しまっています

near-counter = { $counter } の まどぐち: { $department }
button-take = ばんごうふだ を とる
button-chat = チャット

chat-prompt = チャット: { $text }
chat-hint = Enter キー で チャット、Esc で やめる

join-title = まどぐち くやくしょ へ ようこそ
join-name = なまえ: { $name }
join-name-hint = なまえ を いれて Enter
join-lang = ことば (1, 2, 3 キー で かえる)
join-enter = はいる
join-need-name = なまえ を いれて ください

error-chat_too_long = メッセージ が ながすぎます
error-chat_rate_limited = はやすぎます。すこし まって ください
error-chat_empty = メッセージ が ありません
error-not_near_counter = まどぐち の まえ まで きて ください
error-queue_closed = いま は うけつけ の じかん では ありません
error-ticket_exists = この まどぐち の ばんごうふだ は もう あります
error-rate_limited = おおすぎます。すこし まって ください
error-unavailable = いま は できません。もう いちど して ください
error-name_invalid = その なまえ は つかえません
error-target_invalid = そこ へ は いけません
