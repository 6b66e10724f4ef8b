package devsign_test

import (
	"fmt"

	"github.com/fleetbench/fleetbench/engine/devsign"
)

func ExampleSign() {
	meta := devsign.Meta{ProductKey: "a1X2bEnP82z", DeviceName: "example1", DeviceSecret: "ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe"}
	c, err := devsign.Sign(devsign.Shanghai, meta, devsign.Options{SDKVersion: devsign.SDK301, PlainTCP: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Addr())
	fmt.Println(c.ClientID)
	fmt.Println(c.Username)
	fmt.Println(c.Password)
	// Output:
	// a1X2bEnP82z.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883
	// a1X2bEnP82z.example1|timestamp=2524608000000,_v=sdk-c-3.0.1,securemode=3,signmethod=hmacsha256,lan=C,gw=0,ext=0|
	// example1&a1X2bEnP82z
	// B8CE8F1D706DD3C61D13BFD9855DEF7E321B785084CA9C93F0169A2B46785DD2
}
