# まどぐち区役所: 画面の言葉 (日本語)。ID は en.ftl と ja-easy.ftl と同じものをそろえる(テストで確認)。
app-title = まどぐち区役所

state-idle = 待機中
state-requesting = 接続しています…
state-handshaking = 入館しています…
state-connected = 接続中
state-reconnecting = 接続が切れました。{ $seconds } 秒後に再接続します ({ $reason })
state-failed = 接続できません: { $why }

ticket-none = 番号札はありません。窓口の前で E キー、または「番号札をとる」
ticket-waiting = { $label }  { $position }番目  待ち時間の目安 { $wait }
wait-minutes = 約{ $minutes }分
wait-unknown = 不明
ticket-called = { $label }  呼び出し中: { $counter } 番窓口 ({ $department }) へ
ticket-serving = { $label }  対応中
banner-called = 番号札 { $label } の方、{ $room } の { $counter } 番窓口 ({ $department }) へお越しください

staff-mark = 職員
sign-open = { $counter } 受付中: { $clerk }
sign-closed = { $counter } 休止中

near-counter = { $counter } 番窓口: { $department }
button-take = 番号札をとる
button-chat = チャット

chat-prompt = チャット: { $text }
chat-hint = Enter キーでチャット、Esc でやめる

join-title = まどぐち区役所へようこそ
join-name = お名前: { $name }
join-name-hint = 名前を入力して Enter
join-lang = 言語 (1, 2, 3 キーで切り替え)
join-enter = 入る
join-need-name = お名前を入力してください

error-chat_too_long = メッセージが長すぎます
error-chat_rate_limited = 送信が速すぎます。少し待ってください
error-chat_empty = メッセージが空です
error-not_near_counter = 窓口の前まで来てください
error-queue_closed = 受付時間外です
error-ticket_exists = この課の番号札はもう持っています
error-rate_limited = 操作が多すぎます。少し待ってください
error-unavailable = ただいま受付できません。もう一度お試しください
error-name_invalid = その名前は使えません
error-target_invalid = そこへは行けません
