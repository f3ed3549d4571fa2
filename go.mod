module github.com/mailsync/mailsync

go 1.26.8
