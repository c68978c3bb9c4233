module tgvoip-rs/tgvoip

go 1.19
