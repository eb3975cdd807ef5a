{
	"patcher": {
		"fileversion": 1,
		"appversion": {
			"major": 8,
			"minor": 6,
			"revision": 0,
			"architecture": "x64",
			"modernui": 1
		},
		"classnamespace": "box",
		"rect": [
			100.0,
			100.0,
			1000.0,
			700.0
		],
		"openrect": [
			0.0,
			0.0,
			0.0,
			169.0
		],
		"openinpresentation": 1,
		"default_fontsize": 10.0,
		"default_fontface": 0,
		"default_fontname": "Arial Bold",
		"gridonopen": 1,
		"gridsize": [
			8.0,
			8.0
		],
		"gridsnaponopen": 1,
		"objectsnaponopen": 1,
		"statusbarvisible": 2,
		"toolbarvisible": 1,
		"boxanimatetime": 500,
		"enablehscroll": 1,
		"enablevscroll": 1,
		"devicewidth": 412.0,
		"description": "BeatGAN Bridge: generate drum loops with the beatgan daemon",
		"digest": "Generate, vary and morph WaveGAN drum loops into this track's clip slots",
		"tags": "beatgan osc generator drums",
		"style": "",
		"subpatcher_template": "",
		"boxes": [
			{
				"box": {
					"id": "obj-1",
					"maxclass": "newobj",
					"patching_rect": [
						20.0,
						20.0,
						55.0,
						22.0
					],
					"text": "plugin~",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"signal",
						"signal"
					]
				}
			},
			{
				"box": {
					"id": "obj-2",
					"maxclass": "newobj",
					"patching_rect": [
						20.0,
						60.0,
						55.0,
						22.0
					],
					"text": "plugout~",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"signal",
						"signal"
					]
				}
			},
			{
				"box": {
					"id": "obj-3",
					"maxclass": "newobj",
					"patching_rect": [
						420.0,
						420.0,
						160.0,
						22.0
					],
					"text": "js beatgan.js",
					"numinlets": 1,
					"numoutlets": 4,
					"outlettype": [
						"",
						"",
						"",
						""
					],
					"saved_object_attributes": {
						"filename": "beatgan.js",
						"parameter_enable": 0
					}
				}
			},
			{
				"box": {
					"id": "obj-4",
					"maxclass": "newobj",
					"patching_rect": [
						420.0,
						20.0,
						90.0,
						22.0
					],
					"text": "live.thisdevice",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"bang",
						"int",
						"int"
					]
				}
			},
			{
				"box": {
					"id": "obj-5",
					"maxclass": "newobj",
					"patching_rect": [
						420.0,
						50.0,
						55.0,
						22.0
					],
					"text": "deferlow",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-6",
					"maxclass": "newobj",
					"patching_rect": [
						420.0,
						80.0,
						40.0,
						22.0
					],
					"text": "t b b",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-7",
					"maxclass": "message",
					"patching_rect": [
						480.0,
						110.0,
						40.0,
						22.0
					],
					"text": "ready",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-8",
					"maxclass": "newobj",
					"patching_rect": [
						420.0,
						140.0,
						105.0,
						22.0
					],
					"text": "live.path live_set",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"",
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-9",
					"maxclass": "newobj",
					"patching_rect": [
						420.0,
						175.0,
						110.0,
						22.0
					],
					"text": "live.observer tempo",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-10",
					"maxclass": "newobj",
					"patching_rect": [
						420.0,
						205.0,
						75.0,
						22.0
					],
					"text": "speedlim 100",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-11",
					"maxclass": "newobj",
					"patching_rect": [
						420.0,
						235.0,
						85.0,
						22.0
					],
					"text": "prepend tempo",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-12",
					"maxclass": "newobj",
					"patching_rect": [
						620.0,
						20.0,
						100.0,
						22.0
					],
					"text": "udpreceive 14701",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-13",
					"maxclass": "newobj",
					"patching_rect": [
						620.0,
						50.0,
						55.0,
						22.0
					],
					"text": "deferlow",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-14",
					"maxclass": "newobj",
					"patching_rect": [
						420.0,
						470.0,
						140.0,
						22.0
					],
					"text": "udpsend 127.0.0.1 14700",
					"numinlets": 1,
					"numoutlets": 0,
					"outlettype": []
				}
			},
			{
				"box": {
					"id": "obj-15",
					"maxclass": "newobj",
					"patching_rect": [
						620.0,
						90.0,
						60.0,
						22.0
					],
					"text": "loadbang",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						"bang"
					]
				}
			},
			{
				"box": {
					"id": "obj-16",
					"maxclass": "message",
					"patching_rect": [
						620.0,
						120.0,
						30.0,
						22.0
					],
					"text": "1",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-17",
					"maxclass": "newobj",
					"patching_rect": [
						620.0,
						150.0,
						70.0,
						22.0
					],
					"text": "metro 2000",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"bang"
					]
				}
			},
			{
				"box": {
					"id": "obj-18",
					"maxclass": "message",
					"patching_rect": [
						620.0,
						180.0,
						65.0,
						22.0
					],
					"text": "ping_tick",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-19",
					"maxclass": "comment",
					"patching_rect": [
						20.0,
						120.0,
						56.0,
						20.0
					],
					"text": "BeatGAN",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						4.0,
						2.0,
						56.0,
						18.0
					],
					"fontface": 1
				}
			},
			{
				"box": {
					"id": "obj-20",
					"maxclass": "led",
					"patching_rect": [
						20.0,
						150.0,
						20.0,
						20.0
					],
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"parameter_enable": 0,
					"presentation": 1,
					"presentation_rect": [
						62.0,
						4.0,
						14.0,
						14.0
					],
					"oncolor": [
						0.35,
						0.85,
						0.35,
						1.0
					],
					"offcolor": [
						0.55,
						0.15,
						0.15,
						1.0
					]
				}
			},
			{
				"box": {
					"id": "obj-21",
					"maxclass": "comment",
					"patching_rect": [
						20.0,
						180.0,
						300.0,
						20.0
					],
					"text": "looking for the daemon...",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						136.0,
						122.0,
						272.0,
						26.0
					],
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "obj-22",
					"maxclass": "live.text",
					"patching_rect": [
						20.0,
						230.0,
						70.0,
						20.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						4.0,
						24.0,
						96.0,
						22.0
					],
					"varname": "Generate",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Generate",
							"parameter_shortname": "Generate",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"val1",
								"val2"
							],
							"parameter_mmax": 1
						}
					},
					"mode": 0,
					"text": "Generate",
					"texton": "Generate"
				}
			},
			{
				"box": {
					"id": "obj-23",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						230.0,
						70.0,
						22.0
					],
					"text": "route bang",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-24",
					"maxclass": "message",
					"patching_rect": [
						260.0,
						230.0,
						70.0,
						22.0
					],
					"text": "generate",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-25",
					"maxclass": "live.numbox",
					"patching_rect": [
						20.0,
						265.0,
						60.0,
						15.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						"float"
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						4.0,
						52.0,
						60.0,
						15.0
					],
					"varname": "Seed",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Seed",
							"parameter_shortname": "Seed",
							"parameter_modmode": 0,
							"parameter_type": 1,
							"parameter_mmin": 0.0,
							"parameter_mmax": 999999.0,
							"parameter_unitstyle": 0,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								1
							]
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-26",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						265.0,
						110.0,
						22.0
					],
					"text": "prepend seed",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-27",
					"maxclass": "live.toggle",
					"patching_rect": [
						20.0,
						300.0,
						15.0,
						15.0
					],
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						68.0,
						52.0,
						15.0,
						15.0
					],
					"varname": "Random Seed",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Random Seed",
							"parameter_shortname": "Random",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"off",
								"on"
							],
							"parameter_mmax": 1,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								1
							]
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-28",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						300.0,
						110.0,
						22.0
					],
					"text": "prepend random",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-29",
					"maxclass": "comment",
					"patching_rect": [
						40.0,
						300.0,
						30.0,
						18.0
					],
					"text": "rnd",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						84.0,
						51.0,
						24.0,
						18.0
					]
				}
			},
			{
				"box": {
					"id": "obj-30",
					"maxclass": "live.tab",
					"patching_rect": [
						20.0,
						335.0,
						96.0,
						20.0
					],
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"",
						"",
						"float"
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						4.0,
						74.0,
						96.0,
						18.0
					],
					"varname": "Bars",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Bars",
							"parameter_shortname": "Bars",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"1",
								"2",
								"4"
							],
							"parameter_mmax": 2,
							"parameter_unitstyle": 9
						}
					},
					"num_lines_patching": 1,
					"num_lines_presentation": 1
				}
			},
			{
				"box": {
					"id": "obj-31",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						335.0,
						110.0,
						22.0
					],
					"text": "prepend bars_index",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-32",
					"maxclass": "comment",
					"patching_rect": [
						120.0,
						335.0,
						30.0,
						18.0
					],
					"text": "bars",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						100.0,
						74.0,
						30.0,
						18.0
					]
				}
			},
			{
				"box": {
					"id": "obj-33",
					"maxclass": "live.menu",
					"patching_rect": [
						20.0,
						370.0,
						96.0,
						15.0
					],
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"",
						"",
						"float"
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						4.0,
						98.0,
						96.0,
						15.0
					],
					"varname": "Fit Mode",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Fit Mode",
							"parameter_shortname": "Fit",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"beats",
								"repitch",
								"stretch"
							],
							"parameter_mmax": 2
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-34",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						370.0,
						110.0,
						22.0
					],
					"text": "prepend mode_index",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-35",
					"maxclass": "comment",
					"patching_rect": [
						120.0,
						370.0,
						30.0,
						18.0
					],
					"text": "fit",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						100.0,
						97.0,
						30.0,
						18.0
					]
				}
			},
			{
				"box": {
					"id": "obj-36",
					"maxclass": "comment",
					"patching_rect": [
						20.0,
						405.0,
						60.0,
						18.0
					],
					"text": "Variation",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						136.0,
						20.0,
						60.0,
						18.0
					]
				}
			},
			{
				"box": {
					"id": "obj-37",
					"maxclass": "live.dial",
					"patching_rect": [
						20.0,
						430.0,
						44.0,
						48.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						"float"
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						140.0,
						38.0,
						44.0,
						48.0
					],
					"varname": "Variation Amount",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Variation Amount",
							"parameter_shortname": "Amount",
							"parameter_modmode": 0,
							"parameter_type": 0,
							"parameter_mmin": 0.0,
							"parameter_mmax": 1.0,
							"parameter_unitstyle": 1,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								0.3
							]
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-38",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						430.0,
						110.0,
						22.0
					],
					"text": "prepend amount",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-39",
					"maxclass": "live.text",
					"patching_rect": [
						20.0,
						485.0,
						60.0,
						20.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						136.0,
						92.0,
						56.0,
						20.0
					],
					"varname": "Vary",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Vary",
							"parameter_shortname": "Vary",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"val1",
								"val2"
							],
							"parameter_mmax": 1
						}
					},
					"mode": 0,
					"text": "Vary",
					"texton": "Vary"
				}
			},
			{
				"box": {
					"id": "obj-40",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						485.0,
						70.0,
						22.0
					],
					"text": "route bang",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-41",
					"maxclass": "message",
					"patching_rect": [
						260.0,
						485.0,
						70.0,
						22.0
					],
					"text": "variation",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-42",
					"maxclass": "comment",
					"patching_rect": [
						20.0,
						520.0,
						60.0,
						18.0
					],
					"text": "Morph",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						214.0,
						20.0,
						60.0,
						18.0
					]
				}
			},
			{
				"box": {
					"id": "obj-43",
					"maxclass": "live.numbox",
					"patching_rect": [
						20.0,
						545.0,
						60.0,
						15.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						"float"
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						214.0,
						40.0,
						60.0,
						15.0
					],
					"varname": "Morph A",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Morph A",
							"parameter_shortname": "A",
							"parameter_modmode": 0,
							"parameter_type": 1,
							"parameter_mmin": 0.0,
							"parameter_mmax": 999999.0,
							"parameter_unitstyle": 0,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								1
							]
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-44",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						545.0,
						110.0,
						22.0
					],
					"text": "prepend morph_a",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-45",
					"maxclass": "live.text",
					"patching_rect": [
						20.0,
						575.0,
						30.0,
						15.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						278.0,
						40.0,
						30.0,
						15.0
					],
					"varname": "Take A",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Take A",
							"parameter_shortname": "A<",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"val1",
								"val2"
							],
							"parameter_mmax": 1
						}
					},
					"mode": 0,
					"text": "A<",
					"texton": "A<"
				}
			},
			{
				"box": {
					"id": "obj-46",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						575.0,
						70.0,
						22.0
					],
					"text": "route bang",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-47",
					"maxclass": "message",
					"patching_rect": [
						260.0,
						575.0,
						70.0,
						22.0
					],
					"text": "take_a",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-48",
					"maxclass": "live.numbox",
					"patching_rect": [
						20.0,
						605.0,
						60.0,
						15.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						"float"
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						214.0,
						60.0,
						60.0,
						15.0
					],
					"varname": "Morph B",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Morph B",
							"parameter_shortname": "B",
							"parameter_modmode": 0,
							"parameter_type": 1,
							"parameter_mmin": 0.0,
							"parameter_mmax": 999999.0,
							"parameter_unitstyle": 0,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								2
							]
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-49",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						605.0,
						110.0,
						22.0
					],
					"text": "prepend morph_b",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-50",
					"maxclass": "live.text",
					"patching_rect": [
						20.0,
						635.0,
						30.0,
						15.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						278.0,
						60.0,
						30.0,
						15.0
					],
					"varname": "Take B",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Take B",
							"parameter_shortname": "B<",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"val1",
								"val2"
							],
							"parameter_mmax": 1
						}
					},
					"mode": 0,
					"text": "B<",
					"texton": "B<"
				}
			},
			{
				"box": {
					"id": "obj-51",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						635.0,
						70.0,
						22.0
					],
					"text": "route bang",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-52",
					"maxclass": "message",
					"patching_rect": [
						260.0,
						635.0,
						70.0,
						22.0
					],
					"text": "take_b",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-53",
					"maxclass": "live.slider",
					"patching_rect": [
						20.0,
						665.0,
						100.0,
						20.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						"float"
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						214.0,
						80.0,
						94.0,
						16.0
					],
					"varname": "Morph Position",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Morph Position",
							"parameter_shortname": "Pos",
							"parameter_modmode": 0,
							"parameter_type": 0,
							"parameter_mmin": 0.0,
							"parameter_mmax": 1.0,
							"parameter_unitstyle": 1,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								0.5
							]
						}
					},
					"orientation": 1
				}
			},
			{
				"box": {
					"id": "obj-54",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						665.0,
						110.0,
						22.0
					],
					"text": "prepend position",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-55",
					"maxclass": "live.text",
					"patching_rect": [
						20.0,
						700.0,
						60.0,
						20.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						214.0,
						100.0,
						94.0,
						20.0
					],
					"varname": "Morph",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Morph",
							"parameter_shortname": "Morph",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"val1",
								"val2"
							],
							"parameter_mmax": 1
						}
					},
					"mode": 0,
					"text": "Morph",
					"texton": "Morph"
				}
			},
			{
				"box": {
					"id": "obj-56",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						700.0,
						70.0,
						22.0
					],
					"text": "route bang",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-57",
					"maxclass": "message",
					"patching_rect": [
						260.0,
						700.0,
						70.0,
						22.0
					],
					"text": "morph",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-58",
					"maxclass": "newobj",
					"patching_rect": [
						620.0,
						470.0,
						250.0,
						22.0
					],
					"text": "route seed morph_a morph_b lastseed path",
					"numinlets": 2,
					"numoutlets": 6,
					"outlettype": [
						"",
						"",
						"",
						"",
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-59",
					"maxclass": "newobj",
					"patching_rect": [
						620.0,
						510.0,
						75.0,
						22.0
					],
					"text": "prepend set",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-60",
					"maxclass": "newobj",
					"patching_rect": [
						710.0,
						510.0,
						75.0,
						22.0
					],
					"text": "prepend set",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-61",
					"maxclass": "newobj",
					"patching_rect": [
						800.0,
						510.0,
						75.0,
						22.0
					],
					"text": "prepend set",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-62",
					"maxclass": "comment",
					"patching_rect": [
						20.0,
						735.0,
						150.0,
						18.0
					],
					"text": "last seed -",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						4.0,
						124.0,
						130.0,
						18.0
					]
				}
			},
			{
				"box": {
					"id": "obj-63",
					"maxclass": "newobj",
					"patching_rect": [
						890.0,
						510.0,
						130.0,
						22.0
					],
					"text": "prepend set last seed",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-64",
					"maxclass": "comment",
					"patching_rect": [
						20.0,
						760.0,
						400.0,
						18.0
					],
					"text": "",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						4.0,
						150.0,
						404.0,
						16.0
					]
				}
			},
			{
				"box": {
					"id": "obj-65",
					"maxclass": "newobj",
					"patching_rect": [
						890.0,
						540.0,
						75.0,
						22.0
					],
					"text": "prepend set",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-66",
					"maxclass": "comment",
					"patching_rect": [
						620.0,
						260.0,
						300.0,
						50.0
					],
					"text": "Needs `beatgan serve` running (OSC 127.0.0.1:14700, replies on 14701). Keep beatgan.js next to this device. See docs/ableton.md.",
					"numinlets": 1,
					"numoutlets": 0,
					"linecount": 3
				}
			},
			{
				"box": {
					"id": "obj-67",
					"maxclass": "comment",
					"patching_rect": [
						20.0,
						800.0,
						60.0,
						18.0
					],
					"text": "Parts",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						312.0,
						20.0,
						60.0,
						18.0
					]
				}
			},
			{
				"box": {
					"id": "obj-68",
					"maxclass": "live.toggle",
					"patching_rect": [
						20.0,
						825.0,
						15.0,
						15.0
					],
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						312.0,
						40.0,
						15.0,
						15.0
					],
					"varname": "Stems",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Stems",
							"parameter_shortname": "Stems",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"off",
								"on"
							],
							"parameter_mmax": 1,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								0
							]
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-69",
					"maxclass": "comment",
					"patching_rect": [
						40.0,
						825.0,
						40.0,
						18.0
					],
					"text": "stems",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						328.0,
						39.0,
						40.0,
						18.0
					]
				}
			},
			{
				"box": {
					"id": "obj-70",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						825.0,
						110.0,
						22.0
					],
					"text": "prepend stems",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-71",
					"maxclass": "live.toggle",
					"patching_rect": [
						20.0,
						855.0,
						15.0,
						15.0
					],
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						366.0,
						40.0,
						15.0,
						15.0
					],
					"varname": "MIDI",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "MIDI",
							"parameter_shortname": "MIDI",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"off",
								"on"
							],
							"parameter_mmax": 1,
							"parameter_initial_enable": 1,
							"parameter_initial": [
								0
							]
						}
					}
				}
			},
			{
				"box": {
					"id": "obj-72",
					"maxclass": "comment",
					"patching_rect": [
						40.0,
						855.0,
						40.0,
						18.0
					],
					"text": "midi",
					"numinlets": 1,
					"numoutlets": 0,
					"presentation": 1,
					"presentation_rect": [
						382.0,
						39.0,
						30.0,
						18.0
					]
				}
			},
			{
				"box": {
					"id": "obj-73",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						855.0,
						110.0,
						22.0
					],
					"text": "prepend midi",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-74",
					"maxclass": "live.text",
					"patching_rect": [
						20.0,
						885.0,
						70.0,
						20.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						312.0,
						62.0,
						96.0,
						20.0
					],
					"varname": "Drop MIDI",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Drop MIDI",
							"parameter_shortname": "Drop MIDI",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"val1",
								"val2"
							],
							"parameter_mmax": 1
						}
					},
					"mode": 0,
					"text": "Drop MIDI",
					"texton": "Drop MIDI"
				}
			},
			{
				"box": {
					"id": "obj-75",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						885.0,
						70.0,
						22.0
					],
					"text": "route bang",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-76",
					"maxclass": "message",
					"patching_rect": [
						260.0,
						885.0,
						70.0,
						22.0
					],
					"text": "drop_midi",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-77",
					"maxclass": "live.text",
					"patching_rect": [
						20.0,
						915.0,
						70.0,
						20.0
					],
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					],
					"parameter_enable": 1,
					"presentation": 1,
					"presentation_rect": [
						312.0,
						88.0,
						96.0,
						20.0
					],
					"varname": "Drop Stems",
					"saved_attribute_attributes": {
						"valueof": {
							"parameter_longname": "Drop Stems",
							"parameter_shortname": "Drop Stems",
							"parameter_modmode": 0,
							"parameter_type": 2,
							"parameter_enum": [
								"val1",
								"val2"
							],
							"parameter_mmax": 1
						}
					},
					"mode": 0,
					"text": "Drop Stems",
					"texton": "Drop Stems"
				}
			},
			{
				"box": {
					"id": "obj-78",
					"maxclass": "newobj",
					"patching_rect": [
						180.0,
						915.0,
						70.0,
						22.0
					],
					"text": "route bang",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"",
						""
					]
				}
			},
			{
				"box": {
					"id": "obj-79",
					"maxclass": "message",
					"patching_rect": [
						260.0,
						915.0,
						70.0,
						22.0
					],
					"text": "drop_stems",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					]
				}
			}
		],
		"lines": [
			{
				"patchline": {
					"source": [
						"obj-1",
						0
					],
					"destination": [
						"obj-2",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-1",
						1
					],
					"destination": [
						"obj-2",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-4",
						0
					],
					"destination": [
						"obj-5",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-5",
						0
					],
					"destination": [
						"obj-6",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-6",
						1
					],
					"destination": [
						"obj-7",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-7",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-6",
						0
					],
					"destination": [
						"obj-8",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-8",
						0
					],
					"destination": [
						"obj-9",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-9",
						0
					],
					"destination": [
						"obj-10",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-10",
						0
					],
					"destination": [
						"obj-11",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-11",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-12",
						0
					],
					"destination": [
						"obj-13",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-13",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-3",
						0
					],
					"destination": [
						"obj-14",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-15",
						0
					],
					"destination": [
						"obj-16",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-16",
						0
					],
					"destination": [
						"obj-17",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-17",
						0
					],
					"destination": [
						"obj-18",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-18",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-3",
						1
					],
					"destination": [
						"obj-21",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-3",
						2
					],
					"destination": [
						"obj-20",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-22",
						0
					],
					"destination": [
						"obj-23",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-23",
						0
					],
					"destination": [
						"obj-24",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-24",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-25",
						0
					],
					"destination": [
						"obj-26",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-26",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-27",
						0
					],
					"destination": [
						"obj-28",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-28",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-30",
						0
					],
					"destination": [
						"obj-31",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-31",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-33",
						0
					],
					"destination": [
						"obj-34",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-34",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-37",
						0
					],
					"destination": [
						"obj-38",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-38",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-39",
						0
					],
					"destination": [
						"obj-40",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-40",
						0
					],
					"destination": [
						"obj-41",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-41",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-43",
						0
					],
					"destination": [
						"obj-44",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-44",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-45",
						0
					],
					"destination": [
						"obj-46",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-46",
						0
					],
					"destination": [
						"obj-47",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-47",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-48",
						0
					],
					"destination": [
						"obj-49",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-49",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-50",
						0
					],
					"destination": [
						"obj-51",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-51",
						0
					],
					"destination": [
						"obj-52",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-52",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-53",
						0
					],
					"destination": [
						"obj-54",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-54",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-55",
						0
					],
					"destination": [
						"obj-56",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-56",
						0
					],
					"destination": [
						"obj-57",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-57",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-3",
						3
					],
					"destination": [
						"obj-58",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-58",
						0
					],
					"destination": [
						"obj-59",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-59",
						0
					],
					"destination": [
						"obj-25",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-58",
						1
					],
					"destination": [
						"obj-60",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-60",
						0
					],
					"destination": [
						"obj-43",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-58",
						2
					],
					"destination": [
						"obj-61",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-61",
						0
					],
					"destination": [
						"obj-48",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-58",
						3
					],
					"destination": [
						"obj-63",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-63",
						0
					],
					"destination": [
						"obj-62",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-58",
						4
					],
					"destination": [
						"obj-65",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-65",
						0
					],
					"destination": [
						"obj-64",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-68",
						0
					],
					"destination": [
						"obj-70",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-70",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-71",
						0
					],
					"destination": [
						"obj-73",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-73",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-74",
						0
					],
					"destination": [
						"obj-75",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-75",
						0
					],
					"destination": [
						"obj-76",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-76",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-77",
						0
					],
					"destination": [
						"obj-78",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-78",
						0
					],
					"destination": [
						"obj-79",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"obj-79",
						0
					],
					"destination": [
						"obj-3",
						0
					]
				}
			}
		],
		"parameters": {
			"obj-22": [
				"Generate",
				"Generate",
				0
			],
			"obj-25": [
				"Seed",
				"Seed",
				0
			],
			"obj-27": [
				"Random Seed",
				"Random",
				0
			],
			"obj-30": [
				"Bars",
				"Bars",
				0
			],
			"obj-33": [
				"Fit Mode",
				"Fit",
				0
			],
			"obj-37": [
				"Variation Amount",
				"Amount",
				0
			],
			"obj-39": [
				"Vary",
				"Vary",
				0
			],
			"obj-43": [
				"Morph A",
				"A",
				0
			],
			"obj-45": [
				"Take A",
				"A<",
				0
			],
			"obj-48": [
				"Morph B",
				"B",
				0
			],
			"obj-50": [
				"Take B",
				"B<",
				0
			],
			"obj-53": [
				"Morph Position",
				"Pos",
				0
			],
			"obj-55": [
				"Morph",
				"Morph",
				0
			],
			"obj-68": [
				"Stems",
				"Stems",
				0
			],
			"obj-71": [
				"MIDI",
				"MIDI",
				0
			],
			"obj-74": [
				"Drop MIDI",
				"Drop MIDI",
				0
			],
			"obj-77": [
				"Drop Stems",
				"Drop Stems",
				0
			],
			"inherited_shortname": 1
		},
		"dependency_cache": [
			{
				"name": "beatgan.js",
				"type": "TEXT",
				"implicit": 1
			}
		],
		"latency": 0,
		"is_mpe": 0,
		"minimum_live_version": "",
		"minimum_max_version": "",
		"platform_compatibility": 0,
		"project": {
			"version": 1,
			"creationdate": 3590052786,
			"modificationdate": 3590052786,
			"viewrect": [
				0.0,
				0.0,
				300.0,
				500.0
			],
			"autoorganize": 1,
			"hideprojectwindow": 1,
			"showdependencies": 1,
			"autolocalize": 0,
			"contents": {
				"patchers": {},
				"code": {}
			},
			"layout": {},
			"searchpath": {},
			"detailsvisible": 0,
			"amxdtype": 1633771873,
			"readonly": 0,
			"devpathtype": 0,
			"devpath": ".",
			"sortmode": 0,
			"viewmode": 0,
			"includepackages": 0
		},
		"autosave": 0
	}
}
